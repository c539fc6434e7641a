"""The least-privilege audit itself (tests/iam_audit.py): that it can fail, and the real template's
policies as it expands them."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.iam_audit import (
    CANONICAL_STACK,
    Call,
    PolicyTemplateNotExpanded,
    audit,
    function_policies,
    grants,
    iam_requests,
)

ACCOUNT = "123456789012"
TABLE_ARN = f"arn:aws:dynamodb:us-east-1:{ACCOUNT}:table/{CANONICAL_STACK}-Table"
DEFAULTS = json.dumps({"Backend": "a"})

FIXTURE = """
Transform: AWS::Serverless-2016-10-31
Parameters:
  Backend: {Type: String, Default: a}
Conditions:
  IsB: !Equals [!Ref Backend, b]
Resources:
  Table: {Type: AWS::DynamoDB::Table, Properties: {}}
  Fn:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: fn/
      Handler: app.handler
      Policies:
        - Statement:
            - Effect: Allow
              Action: [dynamodb:GetItem, dynamodb:PutItem]
              Resource: !GetAtt Table.Arn
        - !If
          - IsB
          - Statement:
              - Effect: Allow
                Action: timestream:DescribeEndpoints
                Resource: "*"
          - !Ref AWS::NoValue
"""


@pytest.fixture
def template(tmp_path: Path) -> Path:
    path = tmp_path / "template.yaml"
    path.write_text(FIXTURE)
    return path


def test_a_call_the_policy_does_not_allow_fails_the_audit(template: Path) -> None:
    calls = [
        Call("Fn", DEFAULTS, "dynamodb:GetItem", TABLE_ARN),
        Call("Fn", DEFAULTS, "dynamodb:Scan", TABLE_ARN),
        Call("Fn", DEFAULTS, "dynamodb:GetItem", TABLE_ARN.replace("-Table", "-Other")),
    ]
    verdict = audit(calls, check_unused=False, template_path=template)
    assert [(c.action, c.resource) for c in verdict.not_allowed] == [
        ("dynamodb:GetItem", TABLE_ARN.replace("-Table", "-Other")),
        ("dynamodb:Scan", TABLE_ARN),
    ]
    assert not verdict.ok and "NOT ALLOWED Fn: dynamodb:Scan" in verdict.report()


def test_a_granted_action_never_called_fails_the_audit_of_a_full_run(template: Path) -> None:
    calls = [Call("Fn", DEFAULTS, "dynamodb:GetItem", TABLE_ARN)]
    assert audit(calls, check_unused=False, template_path=template).ok
    verdict = audit(calls, check_unused=True, template_path=template)
    assert verdict.unused == [("Fn", DEFAULTS, "dynamodb:PutItem", TABLE_ARN)]
    both = [*calls, Call("Fn", DEFAULTS, "dynamodb:PutItem", TABLE_ARN)]
    assert audit(both, check_unused=True, template_path=template).ok


def test_conditional_statements_exist_only_when_their_condition_holds(template: Path) -> None:
    assert ("timestream:DescribeEndpoints", "*") not in set(grants(function_policies({}, template)["Fn"]))
    assert ("timestream:DescribeEndpoints", "*") in set(grants(function_policies({"Backend": "b"}, template)["Fn"]))


def test_a_sam_policy_template_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "template.yaml"
    path.write_text(
        FIXTURE.replace(
            "        - Statement:\n            - Effect: Allow\n              Action: [dynamodb:GetItem, dynamodb:PutItem]\n              Resource: !GetAtt Table.Arn\n",
            "        - DynamoDBReadPolicy: {TableName: !Ref Table}\n",
        )
    )
    with pytest.raises(PolicyTemplateNotExpanded, match="DynamoDBReadPolicy"):
        function_policies({}, path)


def test_calls_become_the_requests_iam_authorizes() -> None:
    names = {
        "phys-table": "t",
        "https://sqs.us-east-1.amazonaws.com/1/phys-q": "unused",
        "phys-q": "q",
        "phys-group": "g",
    }
    arn = f"arn:aws:dynamodb:us-east-1:{ACCOUNT}:table/t"
    transact = {
        "TransactItems": [{"Put": {"TableName": "phys-table"}}, {"ConditionCheck": {"TableName": "phys-table"}}]
    }
    assert iam_requests("dynamodb", "TransactWriteItems", transact, names) == [
        ("dynamodb:PutItem", arn),
        ("dynamodb:ConditionCheckItem", arn),
    ]
    assert iam_requests("dynamodb", "Query", {"TableName": "phys-table", "IndexName": "gsi1"}, names) == [
        ("dynamodb:Query", f"{arn}/index/gsi1")
    ]
    batch = {"QueueUrl": "https://sqs.us-east-1.amazonaws.com/1/phys-q"}
    assert iam_requests("sqs", "SendMessageBatch", batch, names) == [
        ("sqs:SendMessage", f"arn:aws:sqs:us-east-1:{ACCOUNT}:q")
    ]
    schedule = {"Name": "s1", "GroupName": "phys-group", "Target": {"RoleArn": "arn:aws:iam::1:role/r"}}
    assert iam_requests("scheduler", "CreateSchedule", schedule, names) == [
        ("scheduler:CreateSchedule", f"arn:aws:scheduler:us-east-1:{ACCOUNT}:schedule/g/s1"),
        ("iam:PassRole", "arn:aws:iam::1:role/r"),
    ]
    query = {"QueryString": 'SELECT * FROM "db"."tbl" WHERE x = 1'}
    assert iam_requests("timestream-query", "Query", query, {"db": "D", "tbl": "T"}) == [
        ("timestream:Select", f"arn:aws:timestream:us-east-1:{ACCOUNT}:database/D/table/T")
    ]
    assert iam_requests("timestream-write", "DescribeEndpoints", {}, {}) == [("timestream:DescribeEndpoints", "*")]


# ----------------------------------------------------------------------------- the real template


def test_no_function_has_a_policy_template_and_timestream_is_granted_only_on_that_backend() -> None:
    dynamodb = function_policies({})
    timestream = function_policies({"ReadingStoreBackend": "timestream"})
    assert not any(a.startswith("timestream:") for s in dynamodb.values() for a, _ in grants(s))
    granted = {fn: {a for a, _ in grants(s) if a.startswith("timestream:")} for fn, s in timestream.items()}
    assert granted["WriterFunction"] == {"timestream:WriteRecords", "timestream:DescribeEndpoints"}
    readers = {fn for fn, actions in granted.items() if "timestream:Select" in actions}
    assert "ThingHistoryFunction" in readers and "WriterFunction" not in readers
    for fn in readers | {"WriterFunction"}:
        for action, resource in grants(timestream[fn]):
            if action == "timestream:DescribeEndpoints":
                assert resource == "*", "DescribeEndpoints has no resource-level permissions"
            elif action.startswith("timestream:"):
                assert resource.endswith(f"table/{CANONICAL_STACK}-TimestreamTable"), (fn, action, resource)
    # on Timestream no function touches the readings table
    readings = f"table/{CANONICAL_STACK}-ReadingsTable"
    assert not [fn for fn, s in timestream.items() for _, r in grants(s) if readings in r]


def test_no_function_may_scan_and_the_authorizer_reads_one_item_at_a_time() -> None:
    policies = function_policies({})
    assert not [fn for fn, s in policies.items() for a, _ in grants(s) if a in ("dynamodb:Scan", "dynamodb:*")]
    assert {a for a, _ in grants(policies["AuthorizerFunction"])} <= {"dynamodb:GetItem", "dynamodb:BatchGetItem"}


def test_a_new_stack_is_named_by_its_own_resources_even_where_an_old_ones_id_was(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Each integration module builds its own stack; CPython gives a collected template's id to the
    next object, and the recorder once looked names up by id alone, so a later module's calls were
    mapped with the earlier stack's names (NOT ALLOWED on every table). Simulated here by putting
    the first stack's entry under the second's id, as a reused id would."""
    from types import SimpleNamespace

    import tests.iam_audit as audit

    monkeypatch.setattr(audit, "canonical_names", lambda template: {template.table: "canonical"})
    recorder = audit.Recorder()
    first, second = SimpleNamespace(parameters={}, table="one"), SimpleNamespace(parameters={}, table="two")
    assert recorder._stack(first)[0] == {"one": "canonical"}
    recorder._names[id(second)] = recorder._names[id(first)]
    assert recorder._stack(second)[0] == {"two": "canonical"}
