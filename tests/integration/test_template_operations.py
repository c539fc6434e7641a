"""template.yaml is operable once deployed: alarms, log retention, access logs, kept data, bounded writer.

Each test reads the template (issue 10, item 5; docs/operations.md), so removing an alarm, a log
group's retention or a table's Retain policy fails here; the last tests create the alarms and log
groups, resolved as the local stack resolves them, in moto, so a property CloudWatch would refuse
fails too.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from devstack.resources import create_resources
from devstack.template import Template, load_yaml
from moto import mock_aws

REPO = Path(__file__).resolve().parents[2]
TEMPLATE = REPO / "template.yaml"
TABLES = ("DefinitionsTable", "ReadingsTable")
PROBLEM = "'application/problem+json'"


@pytest.fixture(scope="module")
def raw() -> dict[str, Any]:
    return load_yaml(TEMPLATE.read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def resources(raw: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return dict(raw["Resources"])


def _of_type(resources: dict[str, dict[str, Any]], rtype: str) -> dict[str, dict[str, Any]]:
    return {lid: r for lid, r in resources.items() if r["Type"] == rtype}


def _alarm_metrics(alarm: dict[str, Any]) -> list[dict[str, Any]]:
    """Every metric an alarm reads: its own, or each MetricStat of a metric-math alarm."""
    props = alarm["Properties"]
    if "MetricName" in props:
        return [{k: props.get(k) for k in ("Namespace", "MetricName", "Dimensions")}]
    return [q["MetricStat"]["Metric"] for q in props.get("Metrics", []) if "MetricStat" in q]


def _alarms_on(resources: dict[str, dict[str, Any]], namespace: str, metric: str) -> dict[str, dict[str, Any]]:
    return {
        lid: a
        for lid, a in _of_type(resources, "AWS::CloudWatch::Alarm").items()
        if any(m["Namespace"] == namespace and m["MetricName"] == metric for m in _alarm_metrics(a))
    }


def _dimension(metric: dict[str, Any], name: str) -> Any:
    return next((d["Value"] for d in metric.get("Dimensions") or [] if d["Name"] == name), None)


def test_cfn_lint_with_the_serverless_rules_reports_nothing() -> None:
    """cfn-lint-serverless: log retention (WS1004), API access logs (ES2000), DLQs (ES6000), ..."""
    cfn_lint = str(Path(sys.executable).with_name("cfn-lint"))
    result = subprocess.run(
        [cfn_lint, "template.yaml", "-a", "cfn_lint_serverless.rules"], cwd=REPO, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stdout + result.stderr


# ---------------------------------------------------------------- parameters


def test_operations_parameters_and_their_defaults(raw: dict[str, Any]) -> None:
    params = raw["Parameters"]
    assert params["AlarmTopicArn"]["Default"] == ""
    assert params["LogRetentionDays"]["Default"] == 30 and params["LogRetentionDays"]["Type"] == "Number"
    assert 30 in params["LogRetentionDays"]["AllowedValues"]
    reserved, maximum = params["WriterReservedConcurrency"], params["WriterMaximumConcurrency"]
    # SQS refuses a MaximumConcurrency below 2; a reservation below the maximum throttles the trigger.
    assert maximum["MinValue"] >= 2 and reserved["Default"] >= maximum["Default"]


# ---------------------------------------------------------------- alarms


def test_dlq_depth_alarm_fires_on_the_first_message(resources: dict[str, dict[str, Any]]) -> None:
    alarms = _alarms_on(resources, "AWS/SQS", "ApproximateNumberOfMessagesVisible")
    dlq = {
        lid: a
        for lid, a in alarms.items()
        if _dimension(_alarm_metrics(a)[0], "QueueName") == {"Fn::GetAtt": ["ReadingsDeadLetterQueue", "QueueName"]}
    }
    assert len(dlq) == 1, "one alarm on the readings DLQ's depth"
    props = next(iter(dlq.values()))["Properties"]
    assert (props["Threshold"], props["ComparisonOperator"]) == (0, "GreaterThanThreshold")
    assert props["TreatMissingData"] == "notBreaching"


def test_writer_errors_alarm(resources: dict[str, dict[str, Any]]) -> None:
    alarms = [
        a
        for a in _alarms_on(resources, "AWS/Lambda", "Errors").values()
        if _dimension(_alarm_metrics(a)[0], "FunctionName") == {"Ref": "WriterFunction"}
    ]
    assert len(alarms) == 1
    props = alarms[0]["Properties"]
    assert (props["Statistic"], props["Threshold"], props["ComparisonOperator"]) == ("Sum", 0, "GreaterThanThreshold")


def test_oldest_message_age_alarm_on_the_readings_queue(resources: dict[str, dict[str, Any]]) -> None:
    alarms = [
        a
        for a in _alarms_on(resources, "AWS/SQS", "ApproximateAgeOfOldestMessage").values()
        if _dimension(_alarm_metrics(a)[0], "QueueName") == {"Fn::GetAtt": ["ReadingsQueue", "QueueName"]}
    ]
    assert len(alarms) == 1
    props = alarms[0]["Properties"]
    assert props["Statistic"] == "Maximum" and props["Threshold"] == {"Ref": "ReadingsQueueMaxAgeSeconds"}


def test_api_5xx_alarm_is_a_rate_of_the_stage_requests(resources: dict[str, dict[str, Any]]) -> None:
    alarms = _alarms_on(resources, "AWS/ApiGateway", "5XXError")
    assert len(alarms) == 1
    props = next(iter(alarms.values()))["Properties"]
    metrics = {q["Id"]: q for q in props["Metrics"]}
    returned = [q for q in props["Metrics"] if q.get("ReturnData", True)]
    assert len(returned) == 1 and "Expression" in returned[0], "the alarm reads an expression, not a raw count"
    read = {q["MetricStat"]["Metric"]["MetricName"] for q in metrics.values() if "MetricStat" in q}
    assert read == {"5XXError", "Count"}
    for query in metrics.values():
        if "MetricStat" in query:
            metric = query["MetricStat"]["Metric"]
            # SAM titles the generated API after the stack: the API's name is the stack name.
            assert _dimension(metric, "ApiName") == {"Ref": "AWS::StackName"}
            assert _dimension(metric, "Stage") == {"Ref": "Stage"}
            assert query["Id"] in returned[0]["Expression"]


def test_lambda_throttle_alarms_cover_the_writer_and_the_account(resources: dict[str, dict[str, Any]]) -> None:
    scopes = [
        _dimension(_alarm_metrics(a)[0], "FunctionName")
        for a in _alarms_on(resources, "AWS/Lambda", "Throttles").values()
    ]
    # None: no dimension, the account-and-region total (every function of the stack)
    assert sorted(scopes, key=json.dumps) == sorted([{"Ref": "WriterFunction"}, None], key=json.dumps)


def test_every_alarm_notifies_the_topic_only_when_one_is_given(resources: dict[str, dict[str, Any]]) -> None:
    alarms = _of_type(resources, "AWS::CloudWatch::Alarm")
    assert len(alarms) >= 5
    expected = {"Fn::If": ["HasAlarmTopic", [{"Ref": "AlarmTopicArn"}], {"Ref": "AWS::NoValue"}]}
    for lid, alarm in alarms.items():
        props = alarm["Properties"]
        assert props.get("AlarmActions") == expected and props.get("OKActions") == expected, lid
        assert "docs/operations.md#" + lid.lower() in props["AlarmDescription"], f"{lid}: runbook link"
    runbook = (REPO / "docs" / "operations.md").read_text(encoding="utf-8")
    for lid in alarms:
        assert re.search(rf"^#+ .*`{lid}`", runbook, re.M), f"docs/operations.md: no section for {lid}"


@pytest.mark.parametrize(("topic", "actions"), [("", None), ("arn:aws:sns:eu-west-1:123456789012:oncall", True)])
def test_alarm_actions_resolve_with_and_without_a_topic(topic: str, actions: bool | None) -> None:
    template = Template.load(TEMPLATE, parameters={"AlarmTopicArn": topic}, stack_name="t")
    for lid, alarm in template.resources.items():
        if alarm["Type"] != "AWS::CloudWatch::Alarm":
            continue
        props = template.resolve({k: v for k, v in alarm["Properties"].items() if k.endswith("Actions")})
        assert props.get("AlarmActions") == ([topic] if actions else None), lid
        assert props.get("OKActions") == ([topic] if actions else None), lid


# ---------------------------------------------------------------- logs


def test_every_function_has_a_log_group_that_expires(resources: dict[str, dict[str, Any]]) -> None:
    functions = set(_of_type(resources, "AWS::Serverless::Function"))
    groups = _of_type(resources, "AWS::Logs::LogGroup")
    named: dict[str, str] = {}
    for lid, group in groups.items():
        props = group["Properties"]
        assert props.get("RetentionInDays") == {"Ref": "LogRetentionDays"}, f"{lid} never expires"
        match = re.fullmatch(r"/aws/lambda/\$\{(\w+)\}", str(props["LogGroupName"].get("Fn::Sub", "")))
        if match:
            named[match.group(1)] = lid
    assert functions - set(named) == set(), "functions whose log group the stack does not own"
    assert set(named) - functions == set(), "log groups of no function"


def test_function_log_group_names_are_the_ones_lambda_writes_to() -> None:
    template = Template.load(TEMPLATE, stack_name="t")
    for fn in template.function_ids():
        group = template.resolve(template.raw_properties(f"{fn}LogGroup"))
        assert group["LogGroupName"] == f"/aws/lambda/{template.physical_resource(fn).ref}"
        assert group["RetentionInDays"] == "30"


def test_api_access_logs_are_json_into_a_group_that_expires(resources: dict[str, dict[str, Any]]) -> None:
    props = resources["Api"]["Properties"]
    setting = props["AccessLogSetting"]
    group_id = setting["DestinationArn"]["Fn::GetAtt"][0]
    assert resources[group_id]["Type"] == "AWS::Logs::LogGroup"
    assert resources[group_id]["Properties"]["RetentionInDays"] == {"Ref": "LogRetentionDays"}
    record = json.loads(setting["Format"])  # one JSON object per request
    for field in ("requestId", "status", "httpMethod", "resourcePath", "responseLatency", "errorType"):
        assert field in record, field
    assert record["requestId"] == "$context.requestId" and record["status"] == "$context.status"
    (settings,) = props["MethodSettings"]
    assert (settings["ResourcePath"], settings["HttpMethod"]) == ("/*", "*")
    assert settings["LoggingLevel"] == "ERROR" and settings["DataTraceEnabled"] is False
    assert settings["ThrottlingRateLimit"] and settings["ThrottlingBurstLimit"]


def test_api_waits_for_the_account_logging_role(resources: dict[str, dict[str, Any]]) -> None:
    account = resources["ApiGatewayAccount"]
    assert account["Type"] == "AWS::ApiGateway::Account"
    assert account["Properties"]["CloudWatchRoleArn"] == {"Fn::GetAtt": ["ApiGatewayLoggingRole", "Arn"]}
    assert account["Condition"] == resources["ApiGatewayLoggingRole"]["Condition"] == "CreateApiGatewayLogging"
    cond, when_true, _ = resources["Api"]["Properties"]["Description"]["Fn::If"]
    assert cond == "CreateApiGatewayLogging" and "${ApiGatewayAccount}" in when_true["Fn::Sub"]


# ---------------------------------------------------------------- data kept


@pytest.mark.parametrize("table", TABLES)
def test_tables_survive_a_stack_delete_and_can_be_restored(resources: dict[str, dict[str, Any]], table: str) -> None:
    resource = resources[table]
    assert resource["DeletionPolicy"] == "Retain" and resource["UpdateReplacePolicy"] == "Retain"
    props = resource["Properties"]
    assert props["DeletionProtectionEnabled"] is True
    assert props["PointInTimeRecoverySpecification"]["PointInTimeRecoveryEnabled"] is True


def test_dlq_keeps_messages_longer_than_the_source_queue(resources: dict[str, dict[str, Any]]) -> None:
    source = resources["ReadingsQueue"]["Properties"]
    assert source["RedrivePolicy"]["deadLetterTargetArn"] == {"Fn::GetAtt": ["ReadingsDeadLetterQueue", "Arn"]}
    dlq = resources["ReadingsDeadLetterQueue"]["Properties"]
    assert dlq["MessageRetentionPeriod"] == 14 * 86400
    assert source["MessageRetentionPeriod"] < dlq["MessageRetentionPeriod"]


# ---------------------------------------------------------------- bounded writer


def test_writer_concurrency_is_bounded_by_parameters(resources: dict[str, dict[str, Any]]) -> None:
    props = resources["WriterFunction"]["Properties"]
    assert props["ReservedConcurrentExecutions"] == {"Ref": "WriterReservedConcurrency"}
    (sqs,) = [e["Properties"] for e in props["Events"].values() if e["Type"] == "SQS"]
    assert sqs["ScalingConfig"] == {"MaximumConcurrency": {"Ref": "WriterMaximumConcurrency"}}


# ---------------------------------------------------------------- gateway responses


@pytest.mark.parametrize(
    ("rtype", "status"),
    [
        ("MISSING_AUTHENTICATION_TOKEN", 404),  # unknown route or method
        ("UNAUTHORIZED", 401),  # missing or invalid API key
        ("THROTTLED", 429),
        ("INTEGRATION_TIMEOUT", 504),
        ("INTEGRATION_FAILURE", 502),
        ("AUTHORIZER_FAILURE", 500),
        ("DEFAULT_4XX", None),
        ("DEFAULT_5XX", None),
    ],
)
def test_gateway_refusals_are_problem_json(
    resources: dict[str, dict[str, Any]], rtype: str, status: int | None
) -> None:
    response = resources["Api"]["Properties"]["GatewayResponses"][rtype]
    assert response["ResponseParameters"]["Headers"]["Content-Type"] == PROBLEM
    assert response.get("StatusCode") == (None if status is None else str(status))
    # what API Gateway substitutes: messageString is already a quoted JSON string
    text = response["ResponseTemplates"]["application/json"].replace("$context.error.messageString", '"m"')
    body = json.loads(text)
    assert body["type"].startswith("urn:telemetry:problem:") and body["title"]
    assert body.get("status") == status


# ---------------------------------------------------------------- CloudWatch accepts them


@pytest.fixture
def session(monkeypatch: pytest.MonkeyPatch) -> Iterator[boto3.session.Session]:
    for var in ("AWS_ENDPOINT_URL", "AWS_PROFILE"):
        monkeypatch.delenv(var, raising=False)
    with mock_aws():
        yield boto3.session.Session(
            region_name="us-east-1", aws_access_key_id="testing", aws_secret_access_key="testing"
        )


def _numbers(props: dict[str, Any]) -> dict[str, Any]:
    """Parameters resolve to strings; PutMetricAlarm wants numbers."""
    out = dict(props)
    for key in ("Period", "EvaluationPeriods", "DatapointsToAlarm"):
        if key in out:
            out[key] = int(out[key])
    if "Threshold" in out:
        out["Threshold"] = float(out["Threshold"])
    for query in out.get("Metrics", []):
        if "MetricStat" in query:
            query["MetricStat"]["Period"] = int(query["MetricStat"]["Period"])
    return out


def test_alarms_and_log_groups_are_accepted_by_cloudwatch(session: boto3.session.Session) -> None:
    template = Template.load(
        TEMPLATE, parameters={"AlarmTopicArn": "arn:aws:sns:us-east-1:123456789012:oncall"}, stack_name="t"
    )
    created = create_resources(template, session)
    cloudwatch, logs = session.client("cloudwatch"), session.client("logs")
    alarm_ids = [lid for lid, r in template.resources.items() if r["Type"] == "AWS::CloudWatch::Alarm"]
    for lid in alarm_ids:
        cloudwatch.put_metric_alarm(AlarmName=lid, **_numbers(template.resolve(template.raw_properties(lid))))
    described = {a["AlarmName"]: a for a in cloudwatch.describe_alarms()["MetricAlarms"]}
    assert set(described) == set(alarm_ids)
    dlq_alarm = described["ReadingsDeadLetterQueueAlarm"]
    assert dlq_alarm["Dimensions"] == [
        {"Name": "QueueName", "Value": created["ReadingsDeadLetterQueue"].attributes["QueueName"]}
    ]
    assert dlq_alarm["AlarmActions"] == ["arn:aws:sns:us-east-1:123456789012:oncall"]

    for lid, resource in template.resources.items():
        if resource["Type"] != "AWS::Logs::LogGroup":
            continue
        props = template.resolve(template.raw_properties(lid))
        logs.create_log_group(logGroupName=props["LogGroupName"])
        logs.put_retention_policy(logGroupName=props["LogGroupName"], retentionInDays=int(props["RetentionInDays"]))
    pages = logs.get_paginator("describe_log_groups").paginate(logGroupNamePrefix="/aws/lambda/")
    groups = [g for page in pages for g in page["logGroups"]]
    assert len(groups) == len(template.function_ids())
    assert {g.get("retentionInDays") for g in groups} == {30}
