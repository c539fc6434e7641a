"""The pull function in-process under moto: the template's tables and queues, every function
loaded from template.yaml, messages fed as the event source mapping would (``drain``).

The provider and the template mapping are the stand-ins of tests/fakes/integrations.py (the
real connectors and ``map_records`` come from other branches): they are injected into the
composition root the functions share, everything else is real (SQS, the writer, DynamoDB,
Secrets Manager).
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterator
from typing import Any

import boto3
import orjson
import pytest
from telemetry.models.integrations import Integration, secret_name
from telemetry.ports.integrations import ProviderUnavailable, PullStep

from tests.fakes.integrations import ScriptedConnector, simple_mapper
from tests.integration.conftest import Platform, drain

T0 = 1_780_000_000_000


class Org:
    """An organization with a typed thing, a template and an http integration mapped onto the thing."""

    def __init__(self, p: Platform, connector: ScriptedConnector) -> None:
        from telemetry.bootstrap import container
        from telemetry.bootstrap.integrations import build_integration_pull

        self.p = p
        self.key = p.key(f"pull-{uuid.uuid4().hex[:8]}")
        ok = self.ok
        self.metric = ok(
            "POST", "/v2/definitions/metrics", {"name": "soc", "dataType": "Double", "defaultAggregation": "Last"}
        )["id"]
        type_id = ok("POST", "/v2/definitions/thing-types", {"displayName": "EV", "metricIds": [self.metric]})["id"]
        site = ok("POST", "/v2/sites", {"name": "S"})["id"]
        self.thing = ok("POST", f"/v2/sites/{site}/things", {"thingName": "v", "thingTypeId": type_id})["id"]
        spec = {
            "timestamp": {"source": {"pointer": "/t"}, "format": "epoch_ms"},
            "mappings": [{"metricId": self.metric, "source": {"pointer": "/soc"}}],
        }
        template = ok(
            "POST", "/v2/templates", {"name": "t", "target": "ThingData", "format": "JsonPointer", "spec": spec}
        )
        c = container()
        self.org = c.keys.authenticate(self.key).org_id
        self.id = f"intg_{uuid.uuid4().hex[:20]}"
        ports = c.integration_ports
        arn = ports.secrets.put(secret_name(self.org, self.id), {"headers": {"Authorization": "Bearer s3cr3t-token"}})
        integration = Integration.model_validate(
            {
                "id": self.id,
                "name": "feed",
                "provider": "http",
                "connection": {"url": "https://feed.example/v1", "recordType": "Reading"},
                "credentialsSet": True,
                "resources": [{"externalId": "dev1", "thingId": self.thing}],
                "templateId": template["id"],
                "createdAt": "2026-01-01T00:00:00Z",
                "updatedAt": "2026-01-01T00:00:00Z",
            }
        )
        ports.repo.create(self.org, integration, arn)
        self.repo = ports.repo
        # the stand-ins, into the root the loaded functions share
        c.__dict__["integration_pull"] = build_integration_pull(
            c, connector_for=lambda _: connector, mapper=simple_mapper
        )

    def ok(self, method: str, path: str, body: Any = None) -> Any:
        answer = self.p.call(method, path, body, key=self.key)
        assert answer.status in (200, 201), (method, path, answer)
        return answer.body

    def send(self, **kw: Any) -> None:
        from telemetry.bootstrap import container

        container().integration_ports.pull_queue.send(PullStep(self.org, self.id, **kw))


def queue_url(p: Platform, logical_id: str) -> str:
    return str(p.template.physical_resource(logical_id).ref)


def drain_all(p: Platform) -> int:
    total = 0
    while (n := drain(p)) > 0:
        total += n
    return total


def record(message_id: str, body: str, receive_count: int = 1) -> dict[str, Any]:
    return {
        "messageId": message_id,
        "receiptHandle": f"rh-{message_id}",
        "body": body,
        "attributes": {"ApproximateReceiveCount": str(receive_count), "SentTimestamp": "1700000000000"},
        "messageAttributes": {},
        "md5OfBody": "",
        "eventSource": "aws:sqs",
        "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:pull",
        "awsRegion": "us-east-1",
    }


@pytest.fixture
def connector() -> ScriptedConnector:
    return ScriptedConnector(page_size=2)


@pytest.fixture
def org(platform: Platform, connector: ScriptedConnector) -> Iterator[Org]:
    o = Org(platform, connector)
    connector.records = [{"device": "dev1", "t": T0 + 1000 * i, "values": {o.metric: float(i)}} for i in range(5)]
    yield o
    from telemetry.bootstrap import container

    container().__dict__.pop("integration_pull", None)


def pull_function(p: Platform) -> Any:
    return p.functions["IntegrationPullFunction"]


def test_a_scheduled_tick_pages_to_the_end_and_the_readings_reach_latest_event(platform: Platform, org: Org) -> None:
    # Given the Scheduler's tick on the pull queue (its Input shape)
    boto3.client("sqs").send_message(
        QueueUrl=queue_url(platform, "PullQueue"),
        MessageBody=orjson.dumps({"org_id": org.org, "integration_id": org.id, "reason": "schedule"}).decode(),
    )
    # When the queues are drained (pull steps, then the writer)
    drain_all(platform)
    # Then the three pages ran as one run, and the last reading is the thing's latest event
    latest = platform.call("GET", f"/v2/things/{org.thing}/latest-event", key=org.key)
    assert latest.status == 200, latest
    assert latest.body["timestamp"] == T0 + 4000 and latest.body["metrics"] == {"soc": 4.0}
    (run,) = org.repo.runs(org.org, org.id)
    assert run.state == "succeeded" and run.pages == 3 and run.report and run.report["readingsWritten"] == 5
    state = org.repo.state(org.org, org.id)
    assert state.cursor == {"offset": 5} and state.totals["records"] == 5 and state.health == "ok"


def test_a_failing_step_is_a_batch_item_failure_with_its_reason_logged(
    platform: Platform, org: Org, connector: ScriptedConnector, caplog: pytest.LogCaptureFixture
) -> None:
    connector.faults = [ProviderUnavailable("upstream answered 503")] * 10
    # the handler itself: the failed step is the only item failure, its reason logged
    body = orjson.dumps({"org_id": org.org, "integration_id": org.id, "reason": "manual"}).decode()
    event = {"Records": [record("m1", body), record("m2", '{"org_id": 1}')]}
    caplog.set_level(logging.INFO)
    result = pull_function(platform).invoke(event)
    assert result == {"batchItemFailures": [{"itemIdentifier": "m1"}, {"itemIdentifier": "m2"}]}
    logged = " ".join(str(r.__dict__) for r in caplog.records)
    assert "upstream answered 503" in logged and "poison pull step" in logged
    assert "s3cr3t-token" not in logged
    assert org.repo.state(org.org, org.id).cursor is None


def test_a_step_that_keeps_failing_is_moved_to_the_pull_dlq(
    platform: Platform, org: Org, connector: ScriptedConnector
) -> None:
    connector.faults = [ProviderUnavailable("upstream answered 503")] * 10
    # received maxReceiveCount (5) times, failing each time, then moved to the DLQ by the redrive policy
    sqs = boto3.client("sqs")
    pull_url = queue_url(platform, "PullQueue")
    sqs.set_queue_attributes(QueueUrl=pull_url, Attributes={"VisibilityTimeout": "0"})
    try:
        org.send(reason="manual")
        for _ in range(8):
            drain(platform)
    finally:
        sqs.set_queue_attributes(QueueUrl=pull_url, Attributes={"VisibilityTimeout": "180"})
    dead = sqs.receive_message(QueueUrl=queue_url(platform, "PullDeadLetterQueue"), MaxNumberOfMessages=10)
    bodies = [orjson.loads(m["Body"]) for m in dead.get("Messages", [])]
    assert {"org_id": org.org, "integration_id": org.id} in [
        {k: b[k] for k in ("org_id", "integration_id")} for b in bodies
    ]
    state = org.repo.state(org.org, org.id)
    assert state.health == "failing" and state.cursor is None
    # the provider was called on the first receive only; the redeliveries inside the back-off called no one
    assert len(connector.calls) == 1


def test_a_crash_after_the_enqueue_stores_the_resent_page_once(platform: Platform, org: Org) -> None:
    # Given a step that dies right after the readings queue acknowledged its page
    real_save = org.repo.save_state
    calls = {"n": 0}

    def crash_first(*args: Any, **kwargs: Any) -> bool:
        calls["n"] += 1
        if calls["n"] == 1:
            raise RuntimeError("the Lambda was killed")
        return real_save(*args, **kwargs)

    org.repo.save_state = crash_first  # type: ignore[method-assign]
    body = orjson.dumps({"org_id": org.org, "integration_id": org.id, "reason": "manual"}).decode()
    assert pull_function(platform).invoke({"Records": [record("m1", body)]}) == {
        "batchItemFailures": [{"itemIdentifier": "m1"}]
    }
    # When the redelivered message pulls the same page again and everything is written
    assert pull_function(platform).invoke({"Records": [record("m1", body, receive_count=2)]}) == {
        "batchItemFailures": []
    }
    drain_all(platform)
    # Then the readings table holds each of the page's readings once (merged by series + time)
    history = platform.call(
        "GET",
        f"/v2/things/{org.thing}/history",
        key=org.key,
        query={"start": T0 - 1, "end": T0 + 10_000, "metrics": "soc"},
    )
    assert history.status == 200, history
    values = [(f["timestamp"], f["metrics"]["soc"]) for f in history.body["frames"]]
    assert values == [(T0, 0.0), (T0 + 1000, 1.0), (T0 + 2000, 2.0), (T0 + 3000, 3.0), (T0 + 4000, 4.0)]
