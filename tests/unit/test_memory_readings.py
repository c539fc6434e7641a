"""The in-memory ReadingStore/ReadingQueue (the reference semantics) and the writer use case on them."""

from __future__ import annotations

import pytest
from telemetry.adapters.reading_rules import compute_aggregates, record_problem
from telemetry.errors import Unavailable, ValidationFailed
from telemetry.models.metrics import Aggregation, DataType
from telemetry.models.readings import AcceptedBatch, Measure, Record, SeriesKind
from telemetry.services.writer import (
    PoisonMessage,
    RetryableWriteFailure,
    parse_message,
    write_batch,
)

from tests.fakes.readings import InMemoryReadingQueue, InMemoryReadingStore

ORG = "org_a"


def rec(time: int, version: int = 1, series: str = "s1", org: str = ORG, **measures: object) -> Record:
    values = measures or {"temp": 20.5}
    typed = {
        name: Measure(
            DataType.Double
            if isinstance(v, float)
            else DataType.Bool
            if isinstance(v, bool)
            else DataType.Int
            if isinstance(v, int)
            else DataType.String,
            v,
        )
        for name, v in values.items()
    }
    return Record(org, SeriesKind.THING, series, time, typed, version)


# --- store semantics ----------------------------------------------------------------------------


def test_same_version_rewrite_changes_nothing_and_higher_version_replaces() -> None:
    store = InMemoryReadingStore()
    store.write([rec(1000, version=5, temp=1.0)])

    store.write([rec(1000, version=5, temp=99.0)])  # redelivery carries the same version
    assert store.history(ORG, SeriesKind.THING, "s1", 0, 2000)[0][0].measures["temp"].value == 1.0

    store.write([rec(1000, version=6, temp=2.0)])
    store.write([rec(1000, version=4, temp=3.0)])  # a late, lower version never overwrites
    rows, _ = store.history(ORG, SeriesKind.THING, "s1", 0, 2000)
    assert [(r.version, r.measures["temp"].value) for r in rows] == [(6, 2.0)]
    assert store.count() == 1


def test_a_later_version_replaces_only_the_metrics_it_carries() -> None:
    """Issue 8.7: per-metric upserts; the same row whatever the order or redelivery."""
    writes = [rec(1000, version=2, soc=50.0), rec(1000, version=3, temp=20.0), rec(1000, version=4, soc=51.0)]
    for order in ([0, 1, 2], [2, 1, 0], [1, 2, 0, 0, 1]):
        store = InMemoryReadingStore()
        for i in order:
            store.write([writes[i]])
        rows, _ = store.history(ORG, SeriesKind.THING, "s1", 0, 2000)
        assert [{n: m.value for n, m in r.measures.items()} for r in rows] == [{"soc": 51.0, "temp": 20.0}]
        latest = store.latest(ORG, SeriesKind.THING, "s1")
        assert latest == rows[0] and latest.version == 4
        aggregates = store.aggregate(ORG, SeriesKind.THING, "s1", 0, 2000, 1000, {"soc": Aggregation.Sum})
        assert [dict(r.values) for r in aggregates] == [{"soc": 51.0}]
        assert store.count() == 1


def test_latest_only_moves_forward() -> None:
    store = InMemoryReadingStore()
    store.write([rec(2000, version=1, temp=2.0)])
    store.write([rec(1000, version=9, temp=1.0)])  # backfill
    latest = store.latest(ORG, SeriesKind.THING, "s1")
    assert latest is not None and latest.time == 2000

    store.write([rec(2000, version=2, temp=3.0)])  # same time, higher version
    latest = store.latest(ORG, SeriesKind.THING, "s1")
    assert latest is not None and latest.measures["temp"].value == 3.0
    assert store.latest(ORG, SeriesKind.THING, "other") is None


def test_history_pages_both_ways_with_measure_filter() -> None:
    store = InMemoryReadingStore()
    store.write([rec(t, temp=float(t)) for t in range(0, 100, 10)] + [rec(5, hum=1)])

    page, cursor = store.history(ORG, SeriesKind.THING, "s1", 0, 100, measures=["temp"], limit=4)
    assert [r.time for r in page] == [0, 10, 20, 30] and cursor
    page2, cursor2 = store.history(ORG, SeriesKind.THING, "s1", 0, 100, measures=["temp"], limit=4, cursor=cursor)
    assert [r.time for r in page2] == [40, 50, 60, 70] and cursor2
    page3, cursor3 = store.history(ORG, SeriesKind.THING, "s1", 0, 100, measures=["temp"], limit=4, cursor=cursor2)
    assert [r.time for r in page3] == [80, 90] and cursor3 is None

    desc, _ = store.history(ORG, SeriesKind.THING, "s1", 0, 100, limit=3, descending=True)
    assert [r.time for r in desc] == [90, 80, 70]


def test_malformed_cursor_is_a_validation_error() -> None:
    store = InMemoryReadingStore()
    with pytest.raises(ValidationFailed) as info:
        store.history(ORG, SeriesKind.THING, "s1", 0, 10, cursor="not!a*cursor")
    assert info.value.errors[0].path == ("continuationToken",)


def test_aggregates_per_epoch_aligned_interval() -> None:
    records = [rec(1000, temp=1.0, n=1), rec(1500, temp=3.0, n=2), rec(2100, temp=5.0), rec(2200, label="x")]
    aggs = {"temp": Aggregation.Avg, "n": Aggregation.Sum, "label": Aggregation.Count}
    rows = compute_aggregates(records, 0, 10_000, 1000, aggs)
    assert [(r.start, dict(r.values)) for r in rows] == [
        (1000, {"temp": 2.0, "n": 3, "label": 0}),
        (2000, {"temp": 5.0, "n": None, "label": 1}),
    ]
    first_last = compute_aggregates(records, 0, 10_000, 10_000, {"temp": Aggregation.First, "n": Aggregation.Last})
    assert dict(first_last[0].values) == {"temp": 1.0, "n": 2}
    min_max = compute_aggregates(records, 0, 10_000, 10_000, {"temp": Aggregation.Min, "label": Aggregation.Max})
    assert dict(min_max[0].values) == {"temp": 1.0, "label": None}  # Max of a String: not numeric
    with pytest.raises(ValidationFailed):
        compute_aggregates(records, 0, 10, 0, aggs)


@pytest.mark.parametrize(
    ("measure", "problem"),
    [
        (Measure(DataType.Double, True), "Double"),
        (Measure(DataType.Double, float("nan")), "finite"),
        (Measure(DataType.Double, 10**400), "finite"),
        (Measure(DataType.Int, 2**63), "64-bit"),
        (Measure(DataType.Bool, 1), "Bool"),
        (Measure(DataType.String, 3), "String"),
        (Measure(DataType.String, ""), "empty"),  # Timestream cannot store it: both stores refuse it
        (Measure(DataType.Json, {1, 2}), "Json"),
    ],
)
def test_values_that_do_not_match_their_type_are_refused(measure: Measure, problem: str) -> None:
    reason = record_problem(Record(ORG, SeriesKind.THING, "s", 1, {"m": measure}, 1))
    assert reason is not None and problem in reason


def test_queue_round_trips_and_fails_on_demand() -> None:
    queue = InMemoryReadingQueue()
    queue.enqueue(AcceptedBatch("b1", ORG, [rec(1)]))
    assert queue.batches[0].records == [rec(1)]
    queue.fail = True
    with pytest.raises(Unavailable):
        queue.enqueue(AcceptedBatch("b2", ORG, [rec(2)]))
    assert len(queue.batches) == 1


# --- the writer use case ----------------------------------------------------------------------


def test_writer_is_idempotent_on_redelivery() -> None:
    store = InMemoryReadingStore()
    body = AcceptedBatch("b1", ORG, [rec(t) for t in range(60)]).to_bytes().decode()

    first = write_batch(store, parse_message(body))
    second = write_batch(store, parse_message(body))

    assert first.written == second.written == 60
    assert store.count() == 60
    assert store.calls == 2 * 3  # ceil(60 / 25) store calls per delivery


@pytest.mark.parametrize("body", ["{", '{"v": 2}', '{"v": 1, "id": "x", "org": "o", "records": [[1]]}', "[]", '"x"'])
def test_unparseable_messages_are_poison(body: str) -> None:
    with pytest.raises(PoisonMessage):
        parse_message(body)


def test_retryable_rejection_raises_so_the_message_is_redelivered() -> None:
    store = InMemoryReadingStore(reject=lambda r: ("throttled", True) if r.time == 3 else None)
    with pytest.raises(RetryableWriteFailure) as info:
        write_batch(store, AcceptedBatch("b", ORG, [rec(t) for t in range(5)]))
    assert isinstance(info.value, Unavailable)
    assert "throttled" in info.value.detail


def test_permanent_rejections_are_dead_lettered_and_the_rest_written() -> None:
    store = InMemoryReadingStore(reject=lambda r: ("outside retention", False) if r.time < 2 else None)
    outcome = write_batch(store, AcceptedBatch("b", ORG, [rec(t) for t in range(5)]))
    assert outcome.written == 3 and store.count() == 3
    assert [d["time"] for d in outcome.dead_letter_details()] == [0, 1]
    assert outcome.dead_letter_details()[0]["reason"] == "outside retention"


def test_a_batch_refused_entirely_is_poison() -> None:
    store = InMemoryReadingStore(reject=lambda r: ("outside retention", False))
    with pytest.raises(PoisonMessage):
        write_batch(store, AcceptedBatch("b", ORG, [rec(1), rec(2)]))


def test_store_outage_propagates_as_unavailable() -> None:
    store = InMemoryReadingStore()
    store.fail_with = Unavailable("down")
    with pytest.raises(Unavailable):
        write_batch(store, AcceptedBatch("b", ORG, [rec(1)]))
