"""The Integrations API through the real routing, authorizer and handlers, under moto: each route's
documented status and body, the refusals naming their field, credentials that reach Secrets
Manager and never an answer, schedules that moto's EventBridge Scheduler stores with the pull
queue as target, and manual runs on the pull queue."""

from __future__ import annotations

import uuid
from typing import Any

import boto3
import orjson
import pytest
from telemetry.adapters.scheduler_eventbridge import schedule_name

from tests.integration.conftest import Answer, Platform
from tests.support import integrations_template

SECRET = "pa55-never-shown"

ROUTES: dict[tuple[str, str], str] = {
    ("POST", "/v2/integrations"): "integrations:write",
    ("GET", "/v2/integrations"): "integrations:read",
    ("GET", "/v2/integrations/{id}"): "integrations:read",
    ("PUT", "/v2/integrations/{id}"): "integrations:write",
    ("DELETE", "/v2/integrations/{id}"): "integrations:write",
    ("POST", "/v2/integrations/{id}/runs"): "integrations:write",
    ("GET", "/v2/integrations/{id}/runs"): "integrations:read",
}


class Org:
    def __init__(self, p: Platform) -> None:
        self.p = p
        self.name = f"intg-{uuid.uuid4().hex[:8]}"
        self.key = p.key(self.name)
        self.site = self.ok("POST", "/v2/sites", {"name": "depot"})["id"]
        self.thing = self.ok("POST", f"/v2/sites/{self.site}/things", {"thingName": "van 1"})["id"]
        self.template = integrations_template(self.key)
        self.thingdata_template = self.ok(
            "POST",
            "/v2/templates",
            {
                "name": "td",
                "target": "ThingData",
                "format": "JsonPointer",
                "spec": {
                    "recordsPointer": "/r",
                    "timestamp": {"source": {"pointer": "/ts"}, "format": "epoch_ms"},
                    "mappings": [{"metricId": self.metric(), "source": {"pointer": "/v"}}],
                },
            },
        )["id"]

    def metric(self) -> str:
        body = {"name": "soc", "dataType": "Double", "defaultAggregation": "Last"}
        return str(self.ok("POST", "/v2/definitions/metrics", body)["id"])

    def call(self, method: str, path: str, body: Any = None, **kw: Any) -> Answer:
        return self.p.call(method, path, body, key=kw.pop("key", self.key), **kw)

    def ok(self, method: str, path: str, body: Any = None) -> Any:
        answer = self.call(method, path, body)
        assert answer.status in (200, 201, 202), (method, path, answer)
        return answer.body

    def body(self, **kw: Any) -> dict[str, Any]:
        return {
            "name": "fleet",
            "provider": "geotab",
            "connection": {"server": "my.geotab.com", "database": "acme", "feeds": ["StatusData", "LogRecord"]},
            "credentials": {"userName": "svc@acme.example", "password": SECRET},
            "scheduleMinutes": 15,
            "resources": [{"externalId": "b1", "thingId": self.thing}],
            "templateId": self.template,
            **kw,
        }

    @property
    def org_id(self) -> str:
        from telemetry.bootstrap import container

        return container().keys.authenticate(self.key).org_id


@pytest.fixture(scope="module")
def org(platform: Platform) -> Org:
    return Org(platform)


def schedule_of(org_id: str, integration_id: str) -> dict[str, Any]:
    from telemetry.bootstrap import container

    group = container().settings.scheduler_group
    return dict(boto3.client("scheduler").get_schedule(Name=schedule_name(org_id, integration_id), GroupName=group))


def never_secret(answer: Answer) -> None:
    text = orjson.dumps(answer.body).decode() if answer.body is not None else ""
    assert SECRET not in text and "credentials" not in (answer.body or {}), answer.body


# ------------------------------------------------------------------ each route, its documented status


def test_create_answers_201_with_the_integration_and_schedules_it(org: Org) -> None:
    answer = org.call("POST", "/v2/integrations", org.body())

    assert answer.status == 201, answer
    created = answer.body
    assert created["id"].startswith("intg_") and created["credentialsSet"] is True
    assert created["connection"] == {
        "server": "my.geotab.com",
        "database": "acme",
        "feeds": ["StatusData", "LogRecord"],
        "resultsLimit": 50000,
    }
    assert created["resources"] == [{"externalId": "b1", "thingId": org.thing}]
    assert created["scheduleMinutes"] == 15 and created["enabled"] is True
    assert created["status"]["health"] == "never_run"
    never_secret(answer)
    schedule = schedule_of(org.org_id, created["id"])
    assert schedule["ScheduleExpression"] == "rate(15 minutes)" and schedule["State"] == "ENABLED"
    from telemetry.bootstrap import container

    assert schedule["Target"]["Arn"] == container().settings.pull_queue_arn
    assert schedule["Target"]["RoleArn"] == container().settings.scheduler_role_arn
    assert orjson.loads(schedule["Target"]["Input"]) == {
        "org_id": org.org_id,
        "integration_id": created["id"],
        "reason": "schedule",
    }
    stored = boto3.client("secretsmanager").get_secret_value(SecretId=f"integrations/{org.org_id}/{created['id']}")
    assert orjson.loads(stored["SecretString"])["password"] == SECRET


def test_get_answers_200_with_the_status(org: Org) -> None:
    created = org.ok("POST", "/v2/integrations", org.body())

    answer = org.call("GET", f"/v2/integrations/{created['id']}")

    assert answer.status == 200, answer
    assert answer.body == created
    never_secret(answer)


def test_list_answers_200_and_pages(org: Org) -> None:
    ids = {org.ok("POST", "/v2/integrations", org.body(name=f"n{i}"))["id"] for i in range(3)}

    seen: list[str] = []
    token: str | None = None
    for _ in range(20):
        query = {"pageLimit": "2", **({"continuationToken": token} if token else {})}
        answer = org.call("GET", "/v2/integrations", query=query)
        assert answer.status == 200, answer
        assert len(answer.body["items"]) <= 2
        never_secret(answer)
        seen += [i["id"] for i in answer.body["items"]]
        token = answer.body.get("continuationToken")
        if not token:
            break
    assert ids <= set(seen) and len(seen) == len(set(seen))


def test_put_answers_200_keeps_the_credentials_and_changes_the_schedule(org: Org) -> None:
    created = org.ok("POST", "/v2/integrations", org.body())
    body = {k: v for k, v in org.body(name="renamed", scheduleMinutes=1, enabled=False).items() if k != "credentials"}

    answer = org.call("PUT", f"/v2/integrations/{created['id']}", body)

    assert answer.status == 200, answer
    assert answer.body["name"] == "renamed" and answer.body["credentialsSet"] is True
    assert answer.body["createdAt"] == created["createdAt"]
    never_secret(answer)
    schedule = schedule_of(org.org_id, created["id"])
    assert schedule["ScheduleExpression"] == "rate(1 minute)" and schedule["State"] == "DISABLED"


def test_delete_answers_204_and_removes_schedule_and_secret(org: Org) -> None:
    created = org.ok("POST", "/v2/integrations", org.body())

    answer = org.call("DELETE", f"/v2/integrations/{created['id']}")

    assert answer.status == 204 and answer.body is None, answer
    assert org.call("GET", f"/v2/integrations/{created['id']}").status == 404
    with pytest.raises(boto3.client("scheduler").exceptions.ResourceNotFoundException):
        schedule_of(org.org_id, created["id"])
    names = [s["Name"] for s in boto3.client("secretsmanager").list_secrets()["SecretList"]]
    assert f"integrations/{org.org_id}/{created['id']}" not in names


def test_start_run_answers_202_queues_the_step_and_lists_the_run(org: Org) -> None:
    from telemetry.bootstrap import container

    created = org.ok("POST", "/v2/integrations", org.body())
    sqs = boto3.client("sqs")
    url = container().settings.pull_queue_url
    sqs.purge_queue(QueueUrl=url)

    answer = org.call("POST", f"/v2/integrations/{created['id']}/runs")

    assert answer.status == 202, answer
    run = answer.body
    assert run["runId"].startswith("run_") and run["state"] == "queued" and run["reason"] == "manual"
    assert run["integrationId"] == created["id"] and isinstance(run["queuedAt"], int)
    messages = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10)["Messages"]
    assert [orjson.loads(m["Body"]) for m in messages] == [
        {
            "org_id": org.org_id,
            "integration_id": created["id"],
            "run_id": run["runId"],
            "reason": "manual",
            "pushed": [],
        }
    ]
    listed = org.call("GET", f"/v2/integrations/{created['id']}/runs")
    assert listed.status == 200, listed
    assert listed.body == {"items": [run]}


# ------------------------------------------------------------------ refusals name their field


@pytest.mark.parametrize(
    ("change", "path", "status"),
    [
        ({"provider": "samsara"}, "provider", 400),
        ({"connection": {"server": "my.geotab.com", "feeds": ["StatusData"]}}, "connection/database", 400),
        ({"scheduleMinutes": 0}, "scheduleMinutes", 400),
        ({"scheduleMinutes": 1441}, "scheduleMinutes", 400),
        ({"credentials": {"userName": "u"}}, "credentials/password", 400),
        ({"templateId": "tmpl_doesnotexist0000000"}, "templateId", 400),
    ],
)
def test_refusals_name_the_field(org: Org, change: dict[str, Any], path: str, status: int) -> None:
    answer = org.call("POST", "/v2/integrations", org.body(**change))

    assert answer.status == status, answer
    assert answer.header("Content-Type") == "application/problem+json"
    assert path in [e["path"] for e in answer.body["errors"]], answer.body
    never_secret(answer)


def test_a_template_of_another_target_is_refused_naming_it(org: Org) -> None:
    answer = org.call("POST", "/v2/integrations", org.body(templateId=org.thingdata_template))

    assert answer.status == 400, answer
    assert answer.body["errors"] == [
        {
            "path": "templateId",
            "message": f"template {org.thingdata_template} targets ThingData; an integration needs an Integrations template",
        }
    ]


def test_a_thing_of_another_org_is_404_naming_the_resource(platform: Platform, org: Org) -> None:
    other = Org(platform)

    answer = org.call("POST", "/v2/integrations", org.body(resources=[{"externalId": "x", "thingId": other.thing}]))

    assert answer.status == 404, answer
    assert answer.body["errors"] == [{"path": "resources/0/thingId", "message": f"thing {other.thing} not found"}]


def test_missing_scopes_are_403_on_every_route(platform: Platform, org: Org) -> None:
    created = org.ok("POST", "/v2/integrations", org.body())
    for (method, template), scope in ROUTES.items():
        wrong = "integrations:write" if scope == "integrations:read" else "integrations:read"
        key = platform.key(org.name, scopes=[wrong])
        path = template.replace("{id}", created["id"])
        body = org.body() if method in ("POST", "PUT") and not path.endswith("/runs") else None
        answer = org.call(method, path, body, key=key)
        assert answer.status == 403, (method, template, answer)
        assert scope in answer.body["detail"]


def test_a_filtered_key_cannot_see_or_map_things_outside_its_filter(platform: Platform, org: Org) -> None:
    inside_site = org.ok("POST", "/v2/sites", {"name": "inside"})["id"]
    inside_thing = org.ok("POST", f"/v2/sites/{inside_site}/things", {"thingName": "in"})["id"]
    narrow = platform.key(org.name, places=[inside_site])
    outside = org.ok("POST", "/v2/integrations", org.body())

    mine = org.call(
        "POST", "/v2/integrations", org.body(resources=[{"externalId": "i", "thingId": inside_thing}]), key=narrow
    )
    refused = org.call("POST", "/v2/integrations", org.body(), key=narrow)

    assert mine.status == 201, mine
    assert refused.status == 404 and refused.body["errors"][0]["path"] == "resources/0/thingId", refused
    assert org.call("GET", f"/v2/integrations/{outside['id']}", key=narrow).status == 404
    listed = org.call("GET", "/v2/integrations", key=narrow, query={"pageLimit": "500"})
    assert [i["id"] for i in listed.body["items"]] == [mine.body["id"]]
