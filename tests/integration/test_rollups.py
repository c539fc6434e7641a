"""Rollups of the DynamoDB store (issue 11.4), on moto: aggregates answered from the minute, hour
and day rollups equal aggregates folded from raw rows, across random data, intervals, per-metric
upserts, redeliveries and out-of-order backfills.

The oracle is the in-memory fake (``compute_aggregates`` over merged rows, the contract every
store answers), fed the same writes. The same table is also read with ``rollups=False`` (the
raw path of the adapter) as a second witness.
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from moto import mock_aws
from telemetry.adapters.reading_rules import DAY_MS, HOUR_MS, MINUTE_MS, rollup_plan
from telemetry.adapters.readings_dynamodb import DynamoDbReadingStore
from telemetry.adapters.readings_timestream import TimestreamReadingStore
from telemetry.models.metrics import Aggregation, DataType
from telemetry.models.readings import Measure, Record, SeriesKind

from tests.fakes.readings import InMemoryReadingStore
from tests.fakes.timestream import TimestreamFake
from tests.integration.conftest import create_table_from_template

ORG, KIND, TABLE = "org_r", SeriesKind.THING, "readings"
SPAN = 3 * DAY_MS
_series = itertools.count()

pytestmark = pytest.mark.usefixtures("fake_aws_env")

#: times: anywhere in three days, and on / next to the grain boundaries where bugs live
times = st.one_of(
    st.integers(0, SPAN - 1),
    st.sampled_from([0, 1, MINUTE_MS - 1, MINUTE_MS, HOUR_MS - 1, HOUR_MS, DAY_MS - 1, DAY_MS, 2 * DAY_MS + 59_999]),
)
doubles = st.floats(-1e9, 1e9, allow_nan=False, allow_infinity=False)


def measures_of(ints: st.SearchStrategy[int], texts: st.SearchStrategy[str]) -> st.SearchStrategy[dict[str, Measure]]:
    return st.fixed_dictionaries(
        {},
        optional={
            "d": doubles.map(lambda v: Measure(DataType.Double, v)),
            "i": ints.map(lambda v: Measure(DataType.Int, v)),
            "s": texts.map(lambda v: Measure(DataType.String, v)),
            "b": st.booleans().map(lambda v: Measure(DataType.Bool, v)),
        },
    ).filter(bool)


measures = measures_of(st.integers(-(2**63), 2**63 - 1), st.text(min_size=1, max_size=3))  # "" is refused (one rule)


@st.composite
def histories(
    draw: st.DrawFn, measures: st.SearchStrategy[dict[str, Measure]] = measures
) -> list[list[tuple[int, int, dict[str, Measure]]]]:
    """Batches of (time, version, measures) in delivery order: later batches may go back in time
    (backfill), reuse a (time) with a higher or lower version (upsert, late older message) or
    repeat an earlier batch exactly (redelivery)."""
    batches: list[list[tuple[int, int, dict[str, Measure]]]] = []
    versions = itertools.count(4)
    used: list[int] = []
    content: dict[tuple[int, int], dict[str, Measure]] = {}  # one accepted reading per (time, version)
    for _ in range(draw(st.integers(1, 6))):
        if batches and draw(st.integers(0, 4)) == 0:
            batches.append(draw(st.sampled_from(batches)))  # a redelivery: same versions, same values
            continue
        version = draw(st.sampled_from([next(versions), draw(st.integers(0, 3))]))  # newer, or an old one
        picked = draw(st.lists(st.one_of(times, st.sampled_from(used or [0])), min_size=1, max_size=12))
        used.extend(picked)
        batch = {t: (t, version, content.setdefault((t, version), draw(measures))) for t in picked}
        batches.append(list(batch.values()))
    return batches


intervals = st.sampled_from(
    [1000, 30_000, MINUTE_MS, 90_000, 5 * MINUTE_MS, HOUR_MS, 2 * HOUR_MS, 6 * HOUR_MS, DAY_MS, 2 * DAY_MS]
)
aggregations = st.fixed_dictionaries(
    {
        "d": st.sampled_from(list(Aggregation)),
        "i": st.sampled_from(list(Aggregation)),
        "s": st.sampled_from([Aggregation.Count, Aggregation.First, Aggregation.Last, Aggregation.Sum]),
        "b": st.sampled_from([Aggregation.Count, Aggregation.Last, Aggregation.Avg]),
    }
)
queries = st.lists(
    st.tuples(st.integers(0, SPAN), st.integers(0, SPAN + DAY_MS), intervals, aggregations), min_size=1, max_size=4
)


@pytest.fixture(scope="module")
def ddb() -> Iterator[Any]:
    with mock_aws():
        client = boto3.client("dynamodb", region_name="us-east-1")
        create_table_from_template(client, "ReadingsTable", TABLE)
        yield client


def records(series: str, batch: list[tuple[int, int, dict[str, Measure]]]) -> list[Record]:
    return [Record(ORG, KIND, series, t, m, v) for t, v, m in batch]


@settings(
    max_examples=int(os.environ.get("ROLLUP_EXAMPLES", "40")),
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(history=histories(), asked=queries)
def test_aggregates_over_rollups_equal_aggregates_over_raw_rows(ddb: Any, history: Any, asked: Any) -> None:
    # Given the same deliveries written to the DynamoDB store (rollups on) and to the reference fake
    series = f"s{next(_series)}"
    store, raw, oracle = (
        DynamoDbReadingStore(TABLE, client=ddb),
        DynamoDbReadingStore(TABLE, client=ddb, rollups=False),
        InMemoryReadingStore(),
    )
    for batch in history:
        assert store.write(records(series, batch)) == []
        assert oracle.write(records(series, batch)) == []
    # When aggregates are asked over any range and interval
    for start, end, interval, wanted in asked:
        expected = oracle.aggregate(ORG, KIND, series, start, end, interval, wanted)
        # Then the rollups answer exactly what folding the raw rows answers
        assert store.aggregate(ORG, KIND, series, start, end, interval, wanted) == expected
        assert raw.aggregate(ORG, KIND, series, start, end, interval, wanted) == expected


#: what Timestream can answer: no empty string (it cannot store one: refused per reading, see
#: tests/integration/test_readings_timestream.py) and Int values whose sums fit BIGINT (at most 72
#: values of 2^56: a BIGINT sum beyond 2^63 is a Timestream query error, answered 503; the DynamoDB
#: store sums exactly)
TIMESTREAM_MEASURES = measures_of(st.integers(-(2**56), 2**56), st.text(min_size=1, max_size=3))


@pytest.fixture(scope="module")
def timestream() -> TimestreamReadingStore:
    fake = TimestreamFake(page_rows=50)  # small pages: the adapter must follow NextToken
    fake.create_table("telemetry", TABLE)
    write, query = fake.clients()
    return TimestreamReadingStore("telemetry", TABLE, write, query, sleep=lambda _: None)


@settings(
    max_examples=int(os.environ.get("ROLLUP_EXAMPLES", "40")),
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(history=histories(TIMESTREAM_MEASURES), asked=queries)
def test_timestream_aggregates_equal_aggregates_over_raw_rows(
    timestream: TimestreamReadingStore, history: Any, asked: Any
) -> None:
    """The same deliveries and questions as above, on the Timestream adapter (issue 11.7): its
    native SQL aggregation (bin, min_by/max_by, avg...) run by an SQL-executing fake of Timestream."""
    series = f"s{next(_series)}"
    oracle = InMemoryReadingStore()
    for batch in history:
        assert timestream.write(records(series, batch)) == []
        assert oracle.write(records(series, batch)) == []
    for start, end, interval, wanted in asked:
        expected = oracle.aggregate(ORG, KIND, series, start, end, interval, wanted)
        got = timestream.aggregate(ORG, KIND, series, start, end, interval, wanted)
        assert [r.start for r in got] == [r.start for r in expected]
        for row, want in zip(got, expected, strict=True):
            assert dict(row.values) == {k: native_float(v) for k, v in want.values.items()}


def native_float(value: Any) -> Any:
    """Timestream adds doubles in its own order (the contract rounds an exact sum once): equal to
    within a relative 1e-12. Every other value (ints, strings, booleans, counts, None) is exact."""
    return pytest.approx(value, rel=1e-12, abs=1e-9) if isinstance(value, float) else value


def test_a_replaced_value_is_counted_once_and_a_redelivery_changes_nothing(ddb: Any) -> None:
    series = f"s{next(_series)}"
    store = DynamoDbReadingStore(TABLE, client=ddb)
    first = [Record(ORG, KIND, series, t * MINUTE_MS, {"d": Measure(DataType.Double, 1.0)}, 1) for t in range(120)]
    store.write(first)
    # the same minute 5 again with a higher version (replaces), and an older message arriving late
    store.write([Record(ORG, KIND, series, 5 * MINUTE_MS, {"d": Measure(DataType.Double, 10.0)}, 2)])
    store.write([Record(ORG, KIND, series, 5 * MINUTE_MS, {"d": Measure(DataType.Double, 99.0)}, 0)])
    store.write(first)  # a redelivery of the first message
    rows = store.aggregate(ORG, KIND, series, 0, DAY_MS, HOUR_MS, {"d": Aggregation.Sum})
    assert [(r.start, r.values["d"]) for r in rows] == [(0, 59.0 + 10.0), (HOUR_MS, 60.0)]
    count = store.aggregate(ORG, KIND, series, 0, DAY_MS, DAY_MS, {"d": Aggregation.Count})
    assert [r.values["d"] for r in count] == [120]


def test_a_stale_concurrent_writer_loses_to_the_one_that_saw_more(ddb: Any) -> None:
    """Writer A reads the raw items of minute 0, then writer B writes a reading of the same minute
    and its rollups, then A puts its (smaller) minute summary: A's item must lose on every read."""
    series = f"s{next(_series)}"
    second = boto3.client("dynamodb", region_name="us-east-1")
    a, b = DynamoDbReadingStore(TABLE, client=ddb), DynamoDbReadingStore(TABLE, client=second)
    a.write([Record(ORG, KIND, series, 1000, {"d": Measure(DataType.Double, 1.0)}, 1)])
    injected: list[bool] = []

    def b_writes_after_a_reads(**_: Any) -> None:
        if not injected:
            injected.append(True)
            b.write([Record(ORG, KIND, series, 2000, {"d": Measure(DataType.Double, 2.0)}, 3)])

    ddb.meta.events.register("after-call.dynamodb.Query", b_writes_after_a_reads)
    try:
        a.write([Record(ORG, KIND, series, 3000, {"d": Measure(DataType.Double, 4.0)}, 2)])
    finally:
        ddb.meta.events.unregister("after-call.dynamodb.Query", b_writes_after_a_reads)
    # A's minute summary missed B's reading, but B's saw A's: B's wins, and the hour and day agree
    for interval in (MINUTE_MS, HOUR_MS, DAY_MS):
        rows = a.aggregate(ORG, KIND, series, 0, DAY_MS, interval, {"d": Aggregation.Sum})
        assert [r.values["d"] for r in rows] == [7.0], interval
    # and the losing minute item was removed by the hour step
    minute_items = ddb.query(
        TableName=TABLE,
        KeyConditionExpression="pk = :pk AND begins_with(sk, :m)",
        ExpressionAttributeValues={":pk": {"S": f"{ORG}#{KIND.value}#{series}"}, ":m": {"S": "M#"}},
    )["Items"]
    # fingerprint: winning version + 1 of each (time, measure): (1 + 1) + (3 + 1) + (2 + 1); A saw 5
    assert [i["n"]["N"] for i in minute_items] == ["9"]


def test_superseded_items_are_compacted_and_rows_do_not_change(ddb: Any) -> None:
    series = f"s{next(_series)}"
    store = DynamoDbReadingStore(TABLE, client=ddb)
    d, i = Measure(DataType.Double, 1.0), Measure(DataType.Int, 5)
    store.write([Record(ORG, KIND, series, 1000, {"d": d, "i": i}, 1), Record(ORG, KIND, series, 2000, {"d": d}, 1)])
    # version 2 replaces both measures of time 1000: version 1 there is dead; version 3 at 2000
    # sends another metric only: version 1 at 2000 still holds the only "d"
    store.write([Record(ORG, KIND, series, 1000, {"d": Measure(DataType.Double, 2.0), "i": i}, 2)])
    store.write([Record(ORG, KIND, series, 2000, {"i": i}, 3)])
    time_items = ddb.query(
        TableName=TABLE,
        KeyConditionExpression="pk = :pk AND begins_with(sk, :t)",
        ExpressionAttributeValues={":pk": {"S": f"{ORG}#{KIND.value}#{series}"}, ":t": {"S": "T#"}},
    )["Items"]
    assert sorted((int(x["t"]["N"]), int(x["v"]["N"])) for x in time_items) == [(1000, 2), (2000, 1), (2000, 3)]
    rows, _ = store.history(ORG, KIND, series, 0, 10_000)
    assert [{k: m.value for k, m in r.measures.items()} for r in rows] == [{"d": 2.0, "i": 5}, {"d": 1.0, "i": 5}]
    # a late redelivery of the dead item re-adds it; it loses on every read and is compacted again
    store.write([Record(ORG, KIND, series, 1000, {"d": d, "i": i}, 1)])
    assert store.history(ORG, KIND, series, 0, 10_000)[0] == rows
    sums = store.aggregate(ORG, KIND, series, 0, MINUTE_MS, MINUTE_MS, {"d": Aggregation.Sum, "i": Aggregation.Sum})
    assert [dict(r.values) for r in sums] == [{"d": 3.0, "i": 10}]


def test_aggregates_read_rollups_and_raw_items_only_at_the_unaligned_edges(ddb: Any) -> None:
    series = f"s{next(_series)}"
    store = DynamoDbReadingStore(TABLE, client=ddb)
    start = DAY_MS - HOUR_MS - MINUTE_MS - 30_000  # an edge of 30 s, then 1 min, then 1 h before day 1
    quarter_hours = range(0, 2 * DAY_MS, 15 * MINUTE_MS)
    times = [*quarter_hours, start + 10_000, DAY_MS - HOUR_MS - MINUTE_MS]
    store.write([Record(ORG, KIND, series, t, {"d": Measure(DataType.Double, 1.0)}, 1) for t in times])
    read: list[int] = []

    def count(parsed: Any, **_: Any) -> None:
        read.append(parsed["Count"])

    ddb.meta.events.register("after-call.dynamodb.Query", count)
    try:
        # two aligned days: two day items in one Query and nothing else
        rows = store.aggregate(ORG, KIND, series, 0, 2 * DAY_MS, DAY_MS, {"d": Aggregation.Count})
        assert [r.values["d"] for r in rows] == [98, 96] and read == [2]
        read.clear()
        rows = store.aggregate(ORG, KIND, series, start, 2 * DAY_MS, DAY_MS, {"d": Aggregation.Count})
        # raw items of the 30 s edge, one minute item, one hour item (4 readings), one day item
        assert [r.values["d"] for r in rows] == [1 + 1 + 4, 96]
        assert read == [1, 1, 1, 1]
    finally:
        ddb.meta.events.unregister("after-call.dynamodb.Query", count)
    assert rollup_plan(start, 2 * DAY_MS, DAY_MS) == [
        (None, start, start + 30_000),
        (MINUTE_MS, start + 30_000, DAY_MS - HOUR_MS),
        (HOUR_MS, DAY_MS - HOUR_MS, DAY_MS),
        (DAY_MS, DAY_MS, 2 * DAY_MS),
    ]
    assert rollup_plan(0, 10 * MINUTE_MS, 90_000) == [(None, 0, 10 * MINUTE_MS)]  # no grain divides 90 s


def test_retention_expires_raw_items_through_ttl_and_rollups_stay(ddb: Any) -> None:
    series = f"s{next(_series)}"
    now_s = 40 * 86_400
    store = DynamoDbReadingStore(TABLE, client=ddb, retention_days={"other": 7, "*": 30}, now=lambda: now_s)
    day = 20 * DAY_MS  # 20 days ago: inside 30 days
    fresh = [Record(ORG, KIND, series, day + i * MINUTE_MS, {"d": Measure(DataType.Double, 2.0)}, 1) for i in range(3)]
    too_old = Record(ORG, KIND, series, 9 * DAY_MS, {"d": Measure(DataType.Double, 9.0)}, 1)  # 31 days ago
    rejected = store.write([*fresh, too_old])
    assert [(r.index, r.retryable) for r in rejected] == [(3, False)]
    assert "retention of 30 days" in rejected[0].reason
    items = ddb.query(
        TableName=TABLE,
        KeyConditionExpression="pk = :pk",
        ExpressionAttributeValues={":pk": {"S": f"{ORG}#{KIND.value}#{series}"}},
    )["Items"]
    raw = [i for i in items if i["sk"]["S"].startswith("T#")]
    assert len(raw) == 3  # raw items expire 30 days after their own time
    assert all(i["x"]["N"] == str(int(i["t"]["N"]) // 1000 + 30 * 86_400) for i in raw)
    assert {i["sk"]["S"][:1] for i in items if "x" not in i} == {"M", "H", "D"}  # rollups never do
    # When DynamoDB's TTL removes the raw items
    for item in items:
        if item["sk"]["S"].startswith("T#"):
            ddb.delete_item(TableName=TABLE, Key={"pk": item["pk"], "sk": item["sk"]})
    # Then history is empty and the aggregates of whole minutes, hours and days still answer
    assert store.history(ORG, KIND, series, 0, 50 * DAY_MS)[0] == []
    for interval in (MINUTE_MS, HOUR_MS, DAY_MS):
        rows = store.aggregate(ORG, KIND, series, day, day + DAY_MS, interval, {"d": Aggregation.Sum})
        assert sum(r.values["d"] for r in rows) == 6.0, interval
