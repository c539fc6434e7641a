"""``POST /v2/integrations/{integrationId}/webhook`` through the local gateway (routing, no
authorizer on this route, the real handler) under moto: signatures good, bad, missing, replayed."""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
import uuid
from datetime import UTC, datetime
from typing import Any

import boto3
import orjson
import pytest
from telemetry.limits import WEBHOOK_MAX_BODY_BYTES
from telemetry.models.integrations import Integration, secret_name

from tests.integration.conftest import Answer, Platform

SECRET = "whsec-7f3a9c"


class Hooks:
    """One organization with a Zubie, a UtilityAPI, an http and a Geotab integration (webhook secrets set)."""

    def __init__(self, p: Platform) -> None:
        from telemetry.bootstrap import container

        self.p = p
        self.key = p.key(f"hook-{uuid.uuid4().hex[:8]}")
        c = container()
        self.org = c.keys.authenticate(self.key).org_id
        ports = c.integration_ports
        self.ids: dict[str, str] = {}
        connections: dict[str, dict[str, Any]] = {
            "zubie": {},
            "utilityapi": {},
            "http": {"url": "https://feed.example/x", "recordType": "Reading", "recordsPointer": "/data/records"},
            "geotab": {"server": "my.geotab.com", "database": "acme", "feeds": ["StatusData"]},
        }
        for provider, connection in connections.items():
            integration_id = f"intg_{uuid.uuid4().hex[:20]}"
            arn = ports.secrets.put(secret_name(self.org, integration_id), {"apiKey": "k-123", "webhookSecret": SECRET})
            integration = Integration.model_validate(
                {
                    "id": integration_id,
                    "name": provider,
                    "provider": provider,
                    "connection": connection,
                    "credentialsSet": True,
                    "resources": [],
                    "templateId": "tmpl_x",
                    "createdAt": "2026-01-01T00:00:00Z",
                    "updatedAt": "2026-01-01T00:00:00Z",
                }
            )
            ports.repo.create(self.org, integration, arn)
            self.ids[provider] = integration_id
        self.repo = ports.repo

    def post(self, provider_or_id: str, body: bytes, headers: dict[str, str], key: str | None = None) -> Answer:
        integration_id = self.ids.get(provider_or_id, provider_or_id)
        return self.p.call("POST", f"/v2/integrations/{integration_id}/webhook", body, key=key, headers=headers)


@pytest.fixture(scope="module")
def hooks(platform: Platform) -> Hooks:
    return Hooks(platform)


def pull_steps(p: Platform) -> list[dict[str, Any]]:
    """Every step on the pull queue (received and deleted)."""
    sqs = boto3.client("sqs")
    url = str(p.template.physical_resource("PullQueue").ref)
    out = []
    while messages := sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages"):
        for m in messages:
            out.append(orjson.loads(m["Body"]))
            sqs.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])
    return out


def zubie_headers(body: bytes, secret: str = SECRET) -> dict[str, str]:
    return {"Zubie-Signature": base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest()).decode()}


def utilityapi_headers(body: bytes, salt: str = "s4lt") -> dict[str, str]:
    signature = hashlib.sha256(SECRET.encode() + salt.encode() + body).hexdigest()
    return {"X-UtilityAPI-Webhook-Salt": salt, "X-UtilityAPI-Webhook-Signature": signature}


def utilityapi_body() -> bytes:
    now = datetime.now(UTC).isoformat()
    event = {"uid": uuid.uuid4().hex, "type": "meter_intervals_updated", "ts": now, "meter_uid": "m1"}
    return orjson.dumps({"events": [event], "next": None})


def http_headers(body: bytes) -> dict[str, str]:
    stamp = str(int(time.time()))
    digest = hmac.new(SECRET.encode(), stamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    return {"X-Webhook-Timestamp": stamp, "X-Webhook-Signature": digest}


def assert_unauthenticated(answer: Answer) -> None:
    assert answer.status == 401, answer
    assert answer.header("Content-Type") == "application/problem+json", answer
    assert answer.body["type"].endswith(":unauthenticated") and answer.body["status"] == 401, answer.body
    assert answer.body["detail"] == "the webhook signature is missing or invalid", answer.body


def unique_body(event: str = "trip_end") -> bytes:
    return orjson.dumps({"event": event, "trip_key": uuid.uuid4().hex})


def test_a_good_zubie_signature_answers_202_and_queues_a_webhook_step(platform: Platform, hooks: Hooks) -> None:
    pull_steps(platform)
    body = unique_body()
    answer = hooks.post("zubie", body, zubie_headers(body))
    assert answer.status == 202, answer
    assert answer.body["accepted"] is True and answer.body["runId"].startswith("run_")
    assert answer.body["recordsPushed"] == 0
    (step,) = pull_steps(platform)
    assert step["org_id"] == hooks.org and step["integration_id"] == hooks.ids["zubie"]
    assert step["reason"] == "webhook" and step["run_id"] == answer.body["runId"] and step["pushed"] == []
    run = hooks.repo.get_run(hooks.org, hooks.ids["zubie"], answer.body["runId"])
    assert run is not None and run.state == "queued" and run.reason == "webhook"


def test_a_good_utilityapi_signature_with_its_salt_is_accepted(platform: Platform, hooks: Hooks) -> None:
    body = utilityapi_body()
    answer = hooks.post("utilityapi", body, utilityapi_headers(body))
    assert answer.status == 202, answer
    assert [s["reason"] for s in pull_steps(platform)] == ["webhook"]


def test_records_pushed_whole_to_an_http_integration_travel_with_the_step(platform: Platform, hooks: Hooks) -> None:
    pull_steps(platform)
    records = [{"device": "d1", "t": 1_780_000_000_000, "v": 1.5}, {"device": "d1", "t": 1_780_000_001_000, "v": 2.5}]
    body = orjson.dumps({"data": {"records": records}})
    answer = hooks.post("http", body, http_headers(body))
    assert answer.status == 202 and answer.body["recordsPushed"] == 2, answer
    (step,) = pull_steps(platform)
    assert step["pushed"] == records


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Zubie-Signature": ""},
        {"Zubie-Signature": "bm90IGEgc2lnbmF0dXJl"},
        "wrong-secret",
        "other-body",
    ],
    ids=["missing", "empty", "garbage", "wrong-secret", "signed-another-body"],
)
def test_a_bad_or_missing_signature_is_401_and_queues_nothing(
    platform: Platform, hooks: Hooks, headers: dict[str, str] | str
) -> None:
    pull_steps(platform)
    body = unique_body()
    if headers == "wrong-secret":
        headers = zubie_headers(body, secret="not-the-secret")
    elif headers == "other-body":
        headers = zubie_headers(body + b" ")
    assert isinstance(headers, dict)
    assert_unauthenticated(hooks.post("zubie", body, headers))
    assert pull_steps(platform) == []


def test_a_replayed_delivery_is_401(platform: Platform, hooks: Hooks) -> None:
    body = unique_body()
    assert hooks.post("zubie", body, zubie_headers(body)).status == 202
    assert_unauthenticated(hooks.post("zubie", body, zubie_headers(body)))
    # a UtilityAPI replay with the same salt too; a new salt is a new delivery
    body = utilityapi_body()
    assert hooks.post("utilityapi", body, utilityapi_headers(body, "a")).status == 202
    assert_unauthenticated(hooks.post("utilityapi", body, utilityapi_headers(body, "a")))
    assert hooks.post("utilityapi", body, utilityapi_headers(body, "b")).status == 202
    pull_steps(platform)


def test_an_http_signature_outside_the_time_tolerance_is_401(platform: Platform, hooks: Hooks) -> None:
    body = orjson.dumps({"data": {"records": []}})
    stamp = str(int(time.time()) - 3600)
    digest = hmac.new(SECRET.encode(), stamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    headers = {"X-Webhook-Timestamp": stamp, "X-Webhook-Signature": digest}
    assert_unauthenticated(hooks.post("http", body, headers))


def test_an_unknown_integration_is_the_same_401(platform: Platform, hooks: Hooks) -> None:
    body = unique_body()
    assert_unauthenticated(hooks.post("intg_doesnotexist0000000", body, zubie_headers(body)))
    assert_unauthenticated(hooks.post("not-an-id", body, zubie_headers(body)))


def test_a_provider_that_does_not_push_is_the_same_401(platform: Platform, hooks: Hooks) -> None:
    body = unique_body()
    assert_unauthenticated(hooks.post("geotab", body, zubie_headers(body)))


def test_an_api_key_is_no_substitute_for_the_signature(platform: Platform, hooks: Hooks) -> None:
    body = unique_body()
    assert_unauthenticated(hooks.post("zubie", body, {}, key=hooks.key))


def test_a_deleted_integration_no_longer_takes_webhooks(platform: Platform, hooks: Hooks) -> None:
    from telemetry.bootstrap import container

    other = Hooks(platform)
    container().integration_ports.repo.delete(other.org, other.ids["zubie"])
    body = unique_body()
    assert_unauthenticated(other.post("zubie", body, zubie_headers(body)))


def test_a_body_over_the_limit_is_413(platform: Platform, hooks: Hooks) -> None:
    body = b'{"pad":"' + b"x" * WEBHOOK_MAX_BODY_BYTES + b'"}'
    answer = hooks.post("zubie", body, zubie_headers(body))
    assert answer.status == 413, answer
    assert answer.body["type"].endswith(":payload-too-large")
