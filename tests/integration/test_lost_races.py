"""A write that keeps losing the race for its item's version answers 409, not 500 and not a lost
update: the optimistic-concurrency refusal each of these routes documents.

Given a route that reads an item, changes it and writes it back on the condition that its version
is still the one read (``Expect.VERSION``: ``ver = :ver``), when another writer changes the item
between every read and every write, then the route, after its own retries, answers 409 problem+json
and the item holds the other writer's change only.

The other writer is simulated: botocore's ``BaseClient._make_api_call`` is wrapped so that, just
before each versioned write is sent, the item's version is bumped through a separate client (as
another Lambda would). That is the one fault-injection step here, and it is needed because
two threads cannot be made to interleave between a read and a write every time (the threaded race
of the same condition is tests/integration/test_transactions_concurrency.py).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import boto3
import pytest
from botocore.client import BaseClient
from devstack.lambdas import CURRENT_FUNCTION

from tests.integration.conftest import Platform
from tests.integration.test_integrations_api import Org as IntegrationsOrg

VERSIONED = "ver = :ver"


@contextmanager
def another_writer_always_wins() -> Iterator[list[str]]:
    """Bump the stored ``ver`` of every item a versioned write is about to replace; yields the keys bumped."""
    raw = boto3.client("dynamodb", region_name="us-east-1")
    bumped: list[str] = []
    send = BaseClient._make_api_call

    def bump(table: str, put: dict[str, Any]) -> None:
        if put.get("ConditionExpression") != VERSIONED:
            return
        key = {"pk": put["Item"]["pk"], "sk": put["Item"]["sk"]}
        outside = CURRENT_FUNCTION.set(None)  # the other writer's call, not this function's (iam audit)
        try:
            raw.update_item(
                TableName=table,
                Key=key,
                UpdateExpression="SET ver = ver + :one",
                ExpressionAttributeValues={":one": {"N": "1"}},
            )
        finally:
            CURRENT_FUNCTION.reset(outside)
        bumped.append(f"{key['pk']['S']}/{key['sk']['S']}")

    def racing(client: BaseClient, operation: str, params: dict[str, Any]) -> Any:
        if operation == "PutItem":
            bump(params["TableName"], params)
        elif operation == "TransactWriteItems":
            for action in params.get("TransactItems", []):
                if "Put" in action:
                    bump(action["Put"]["TableName"], action["Put"])
        return send(client, operation, params)

    with pytest.MonkeyPatch.context() as patch:
        # every client, whenever it was created (a client copies its session's event hooks at creation)
        patch.setattr(BaseClient, "_make_api_call", racing)
        yield bumped


def assert_conflict(platform: Platform, method: str, path: str, body: Any, key: str) -> None:
    with another_writer_always_wins() as bumped:
        answer = platform.call(method, path, body, key=key)
    assert bumped, "the route made no versioned write"
    assert answer.status == 409, (answer.status, answer.body)
    assert answer.header("Content-Type") == "application/problem+json"
    assert answer.body["type"] == "urn:telemetry:problem:conflict"
    assert "concurrently" in answer.body["detail"] or "race" in answer.body["detail"]


def ok(platform: Platform, method: str, path: str, body: Any, key: str) -> Any:
    answer = platform.call(method, path, body, key=key)
    assert answer.status in (200, 201), (method, path, answer.status, answer.body)
    return answer.body


def new_metric(platform: Platform, key: str) -> str:
    body = {"name": "v", "dataType": "Double", "defaultAggregation": "Last"}
    return str(ok(platform, "POST", "/v2/definitions/metrics", body, key)["id"])


@pytest.fixture
def key(platform: Platform) -> str:
    return platform.key(f"races-{uuid.uuid4().hex[:8]}")


def test_replacing_an_integration(platform: Platform) -> None:
    org = IntegrationsOrg(platform)
    created = org.ok("POST", "/v2/integrations", org.body())
    path = f"/v2/integrations/{created['id']}"
    assert_conflict(platform, "PUT", path, org.body(name="renamed"), org.key)
    assert org.ok("GET", path)["name"] == "fleet"  # our change did not land over theirs


def test_patching_and_rotating_a_sensor(platform: Platform, key: str) -> None:
    building = ok(platform, "POST", "/v2/buildings", {"name": "B"}, key)["id"]
    room = ok(platform, "POST", f"/v2/buildings/{building}/rooms", {"name": "R"}, key)["id"]
    sensor = ok(platform, "POST", f"/v2/rooms/{room}/sensors", {"name": "S", "parameters": ["co2"]}, key)["id"]
    assert_conflict(platform, "PATCH", f"/v2/sensors/{sensor}", {"status": "maintenance"}, key)
    assert_conflict(platform, "POST", f"/v2/sensors/{sensor}/rotate-key", None, key)
    assert ok(platform, "GET", f"/v2/sensors/{sensor}", None, key)["status"] == "active"


def test_deleting_a_template(platform: Platform, key: str) -> None:
    metric = new_metric(platform, key)
    spec = {
        "recordsPointer": "/r",
        "timestamp": {"source": {"pointer": "/ts"}, "format": "epoch_ms"},
        "mappings": [{"metricId": metric, "source": {"pointer": "/v"}}],
    }
    body = {"name": "t", "target": "ThingData", "format": "JsonPointer", "spec": spec}
    template = ok(platform, "POST", "/v2/templates", body, key)["id"]
    assert_conflict(platform, "DELETE", f"/v2/templates/{template}", None, key)
    assert ok(platform, "GET", f"/v2/templates/{template}", None, key)["status"] != "deleted"


def test_adding_a_thing_type_version(platform: Platform, key: str) -> None:
    metric = new_metric(platform, key)
    created = ok(platform, "POST", "/v2/definitions/thing-types", {"displayName": "T", "metricIds": [metric]}, key)
    path = f"/v2/definitions/thing-types/{created['thingTypeId']}"
    assert_conflict(platform, "POST", f"{path}/versions", {"metricIds": [metric]}, key)
    assert ok(platform, "GET", path, None, key)["latestVersion"] == 1
