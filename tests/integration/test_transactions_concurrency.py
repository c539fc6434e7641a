"""Concurrent ``Transactions`` applies of one type and millisecond keep every transaction (issue 8.6).

Threads, each one "Lambda instance" with its own boto3 clients, apply at the same instant against
the real template's tables and queue (moto), then the writer drains and the API lists the instant.
A second barrier inside the item store makes every instance finish its read before any writes, so
the test races for real on every run: a read-merge-write without a condition loses all but one.
moto does not evaluate a condition and write atomically as DynamoDB does, so its writes get
DynamoDB's per-item atomicity from a lock (as in the ambiquality rate-limit test).
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import boto3
import orjson
import pytest
from telemetry.adapters.items_dynamodb import DynamoDbItemStore
from telemetry.adapters.queue_sqs import SqsReadingQueue
from telemetry.adapters.readings_dynamodb import DynamoDbReadingStore
from telemetry.bootstrap import Container, bootstrap
from telemetry.ports.definitions import Stored
from telemetry.settings import Settings

from tests.integration.conftest import Platform, drain, serialize_moto_dynamodb

THREADS = 4
T0 = 1_718_884_800_123

TX_TEMPLATE: dict[str, Any] = {
    "name": "charges",
    "target": "Transactions",
    "format": "JsonPointer",
    "spec": {
        "recordsPointer": "/tx",
        "timestamp": {"source": {"pointer": "/at"}, "format": "epoch_ms"},
        "id": {"pointer": "/id"},
        "type": {"pointer": "/kind", "default": "charge"},
        "amount": {"pointer": "/amt"},
        "currency": {"pointer": "/cur", "default": "USD"},
    },
}


@pytest.fixture(autouse=True)
def atomic_dynamodb_writes(monkeypatch: pytest.MonkeyPatch) -> None:
    serialize_moto_dynamodb(monkeypatch)


class ReadThenWait(DynamoDbItemStore):
    """The real item store; its first ``batch_get`` waits until every instance has read."""

    def __init__(self, table: str, client: Any, barrier: threading.Barrier) -> None:
        super().__init__(table, client=client)
        self.barrier: threading.Barrier | None = barrier

    def batch_get(self, keys: Sequence[tuple[str, str]]) -> list[Stored]:
        found = super().batch_get(keys)
        if self.barrier is not None:
            barrier, self.barrier = self.barrier, None
            barrier.wait(timeout=30)
        return found


def instance(p: Platform, barrier: threading.Barrier) -> Container:
    session = boto3.session.Session(region_name="us-east-1")
    ddb, sqs = session.client("dynamodb"), session.client("sqs")
    queue_url = p.resources["ReadingsQueue"].ref
    readings_table = p.resources["ReadingsTable"].ref
    return bootstrap(
        Settings(),
        store=ReadThenWait(p.resources["DefinitionsTable"].ref, ddb, barrier),
        queue=lambda: SqsReadingQueue(queue_url, client=sqs),
        readings=lambda: DynamoDbReadingStore(readings_table, client=ddb),
    )


def race(p: Platform, key: str, template_id: str, bodies: list[dict[str, Any]]) -> list[dict[str, Any]]:
    start, read = threading.Barrier(len(bodies)), threading.Barrier(len(bodies))
    containers = [instance(p, read) for _ in bodies]
    principals = [c.keys.authenticate(key) for c in containers]  # warm: reads done before the race

    def one(i: int) -> dict[str, Any]:
        service = containers[i].templates
        start.wait(timeout=30)
        return service.apply_transactions(principals[i], template_id, orjson.dumps(bodies[i]), preview_only=False)

    with ThreadPoolExecutor(len(bodies)) as pool:
        return list(pool.map(one, range(len(bodies))))


def listed(p: Platform, key: str, start: int, end: int) -> dict[str, float]:
    answer = p.call("GET", "/v2/transactions", key=key, query={"type": "charge", "start": start, "end": end})
    assert answer.status == 200, answer
    return {t["id"]: t["amount"] for t in answer.body["transactions"]}


def test_concurrent_applies_at_one_instant_keep_every_transaction(platform: Platform) -> None:
    key = platform.key("acme-tx-race")
    template = platform.call("POST", "/v2/templates", TX_TEMPLATE, key=key)
    assert template.status == 201, template
    bodies = [{"tx": [{"at": T0, "id": f"t{i}", "amt": i + 1}]} for i in range(THREADS)]
    reports = race(platform, key, template.body["id"], bodies)
    assert [r["transactionsWritten"] for r in reports] == [1] * THREADS
    drain(platform)
    assert listed(platform, key, T0, T0 + 1) == {f"t{i}": float(i + 1) for i in range(THREADS)}


def test_concurrent_applies_replace_the_same_id_and_keep_stored_rows(platform: Platform) -> None:
    """Over several instants: rows already stored are kept, a re-sent id is replaced, not doubled."""
    key = platform.key("acme-tx-race-2")
    template = platform.call("POST", "/v2/templates", TX_TEMPLATE, key=key).body["id"]
    times = [T0 + 1000 * k for k in range(3)]
    first = [{"tx": [{"at": t, "id": "old", "amt": 1} for t in times]}]
    race(platform, key, template, first)
    drain(platform)
    bodies = [{"tx": [{"at": t, "id": f"n{i}", "amt": 2} for t in times] + [{"at": times[0], "id": "old", "amt": 5}]}
              for i in range(2)]  # fmt: skip
    race(platform, key, template, bodies)
    drain(platform)
    answer = platform.call(
        "GET", "/v2/transactions", key=key, query={"type": "charge", "start": times[0], "end": times[-1] + 1}
    )
    got = sorted((t["timestamp"], t["id"], t["amount"]) for t in answer.body["transactions"])
    expected = [(t, i, 5.0 if (i, t) == ("old", times[0]) else 1.0 if i == "old" else 2.0)
                for t in times for i in ("n0", "n1", "old")]  # fmt: skip
    assert got == expected
