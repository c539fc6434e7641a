"""The writer's per-invocation step: every message stored as it comes, the rollups refreshed once."""

from __future__ import annotations

import pytest
from telemetry.errors import Unavailable
from telemetry.models.metrics import DataType
from telemetry.models.readings import AcceptedBatch, Measure, Record, SeriesKind
from telemetry.services.writer import InvocationWriter, PoisonMessage

from tests.fakes.readings import InMemoryReadingStore


def body(batch_id: str, times: range, value: object = 1.0) -> str:
    records = [Record("org", SeriesKind.THING, "t1", t, {"temp": Measure(DataType.Double, value)}, 1) for t in times]
    return AcceptedBatch(batch_id, "org", records).to_bytes().decode()


def test_rollups_are_refreshed_once_for_every_message_of_the_invocation() -> None:
    store = InMemoryReadingStore()
    writer = InvocationWriter(store)
    for i in range(5):
        writer.write(f"m{i}", body(f"b{i}", range(i * 10, i * 10 + 10)))
    assert store.rollup_refreshes == 0 and store.count() == 50
    assert writer.finish() == []
    assert store.rollup_refreshes == 1
    assert writer.finish() == [] and store.rollup_refreshes == 1  # nothing new stored: nothing to refresh


def test_a_failed_refresh_names_every_stored_message_and_only_those() -> None:
    store = InMemoryReadingStore(reject=lambda r: ("refused for good", False) if r.time >= 100 else None)
    writer = InvocationWriter(store)
    writer.write("stored", body("b1", range(0, 10)))
    with pytest.raises(PoisonMessage):  # every record refused: nothing of it was stored
        writer.write("refused", body("b2", range(100, 110)))
    store.fail_with = Unavailable("DynamoDB down")
    assert writer.finish() == ["stored"]
