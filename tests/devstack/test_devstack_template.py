"""Template loading and intrinsic resolution (fixture template and the real template.yaml)."""

from __future__ import annotations

from pathlib import Path

import pytest
from devstack.gateway import Router, evaluate_policy
from devstack.template import NO_VALUE, PhysicalResource, Template, TemplateError, load_yaml

FIXTURES = Path(__file__).parent / "fixtures"
FIXTURE_TEMPLATE = FIXTURES / "template.yaml"
REPO_TEMPLATE = Path(__file__).resolve().parents[2] / "template.yaml"


def test_short_form_tags_become_long_form() -> None:
    data = load_yaml("A: !Ref X\nB: !GetAtt T.Arn\nC: !Sub 'a-${X}'\nD: !If [Cond, 1, 2]\nE: !Condition Cond\n")
    assert data == {
        "A": {"Ref": "X"},
        "B": {"Fn::GetAtt": ["T", "Arn"]},
        "C": {"Fn::Sub": "a-${X}"},
        "D": {"Fn::If": ["Cond", 1, 2]},
        "E": {"Condition": "Cond"},
    }


def test_environment_resolves_refs_getatt_sub_and_novalue(fixture_template: Template) -> None:
    fixture_template.bind(
        {
            "ItemsTable": PhysicalResource("ItemsTable", "AWS::DynamoDB::Table", "items-x", {"Arn": "arn:t"}),
            "JobsQueue": PhysicalResource(
                "JobsQueue",
                "AWS::SQS::Queue",
                "http://q/jobs-x",
                {"Arn": "arn:aws:sqs:us-east-1:123456789012:jobs-x", "QueueName": "jobs-x"},
            ),
        }
    )
    env = fixture_template.function("EchoFunction").environment
    assert env["ITEMS_TABLE"] == "items-x"
    assert env["JOBS_QUEUE_URL"] == "http://q/jobs-x"
    assert env["JOBS_QUEUE_ARN"] == "arn:aws:sqs:us-east-1:123456789012:jobs-x"
    assert env["SUBBED"] == "us-east-1/items-x/jobs-x"
    assert "OPTIONAL" not in env  # !Ref AWS::NoValue removes the key
    assert env["EXTRA_TABLE"] == ""  # the false branch is never evaluated
    assert env["ECHO_ONLY"] == "1"  # Globals merged with the function's own variables


def test_parameter_override_flips_conditions() -> None:
    on = Template.load(FIXTURE_TEMPLATE, parameters={"Extra": "on"})
    assert "ExtraTable" in on.tables()
    assert on.function("EchoFunction").environment["OPTIONAL"] == "yes"
    off = Template.load(FIXTURE_TEMPLATE)
    assert "ExtraTable" not in off.tables()
    with pytest.raises(TemplateError):
        Template.load(FIXTURE_TEMPLATE, parameters={"Nope": "x"})


def test_function_spec(fixture_template: Template) -> None:
    fn = fixture_template.function("ConsumerFunction")
    assert fn.code_dir == (FIXTURES / "functions" / "consumer").resolve()
    assert fn.module_file == fn.code_dir / "app.py"
    assert (fn.handler_name, fn.timeout, fn.memory_size) == ("lambda_handler", 5, 256)
    assert {e.type for e in fn.events} == {"SQS", "Schedule"}


def test_routes_authorizer_and_events(fixture_template: Template) -> None:
    routes = {(r.method, r.path): r for r in fixture_template.api_routes()}
    assert routes[("GET", "/items/{itemId}")].authorizer == "KeyAuthorizer"
    assert routes[("GET", "/public")].authorizer is None
    assert routes[("ANY", "/files/{proxy+}")].function_id == "EchoFunction"
    auth = fixture_template.authorizer()
    assert auth is not None
    assert (auth.function_id, auth.headers, auth.reauthorize_every) == ("AuthorizerFunction", ("X-Api-Key",), 60)
    assert fixture_template.gateway_responses()["UNAUTHORIZED"].status_code == 401
    (sqs,) = fixture_template.sqs_events()
    assert (sqs.queue_id, sqs.batch_size, sqs.report_batch_item_failures) == ("JobsQueue", 5, True)
    (sched,) = fixture_template.schedule_events()
    assert sched.expression == "rate(1 minute)"


def test_resolver_edge_cases(fixture_template: Template) -> None:
    r = fixture_template.resolve
    assert r({"Fn::Join": ["-", ["a", {"Ref": "AWS::Region"}]]}) == "a-us-east-1"
    assert r({"Fn::Select": [1, {"Fn::Split": [",", "a,b,c"]}]}) == "b"
    assert r({"Fn::Sub": ["${X}-${!Literal}", {"X": "v"}]}) == "v-${Literal}"
    assert r({"Ref": "AWS::NoValue"}) is NO_VALUE
    assert r([1, {"Ref": "AWS::NoValue"}, 2]) == [1, 2]
    assert r({"Fn::Sub": "${AWS::AccountId}.${AWS::URLSuffix}"}) == "123456789012.amazonaws.com"


def test_real_template_is_understood() -> None:
    template = Template.load(REPO_TEMPLATE)
    auth = template.authorizer()
    assert auth is not None and auth.headers == ("X-Api-Key",) and auth.payload_type == "REQUEST"
    assert template.api_routes(), "the real template declares routes"
    assert all(r.authorizer == auth.name or r.authorizer is None for r in template.api_routes())
    assert {"UNAUTHORIZED", "ACCESS_DENIED"} <= set(template.gateway_responses())
    for fn in template.functions():
        assert fn.handler == "app.lambda_handler"
        assert fn.environment  # Globals environment resolved for every function
    for ev in template.sqs_events():
        assert ev.queue_id in template.queue_ids()


def test_router_prefers_literal_then_param_then_greedy(fixture_template: Template) -> None:
    router = Router(fixture_template.api_routes())
    route, params = router.resolve("/items/special", "GET") or (None, None)
    assert route is not None and route.path == "/items/special" and params == {}
    route, params = router.resolve("/items/abc/", "GET") or (None, None)
    assert route is not None and route.path == "/items/{itemId}" and params == {"itemId": "abc"}
    route, params = router.resolve("/files/a/b.txt", "DELETE") or (None, None)
    assert route is not None and params == {"proxy": "a/b.txt"}
    assert router.resolve("/files", "GET") is None  # {proxy+} needs at least one segment
    assert router.resolve("/items/abc", "POST") is None  # known path, wrong method
    assert router.resolve("/nowhere", "GET") is None


def test_policy_evaluation() -> None:
    arn = "arn:aws:execute-api:us-east-1:123456789012:api/dev/GET/items/1"
    allow = {"Effect": "Allow", "Action": "execute-api:Invoke", "Resource": "arn:aws:execute-api:*:*:api/dev/*"}
    deny = {"Effect": "Deny", "Action": ["execute-api:*"], "Resource": [arn]}
    assert evaluate_policy([allow], arn) == "allow"
    assert evaluate_policy([allow, deny], arn) == "deny"
    assert evaluate_policy([{**allow, "Resource": "arn:aws:execute-api:*:*:api/dev/POST/*"}], arn) == "implicit"
    assert evaluate_policy([], arn) == "implicit"
