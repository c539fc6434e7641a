"""Per-metric upserts (issue 8.7) as a property: any order, any redelivery, any batching of the
same accepted writes gives the same rows, on the DynamoDB adapter (moto), the Timestream adapter
(on the SQL-executing fake of Timestream, tests/fakes/timestream.py) and the in-memory fake: the
same history, latest and aggregate checks for every store.

The model: the row of a time holds, for each metric, the value of the highest version that
carries it. A (time, version) pair is one accepted batch's reading, so it always has the same
content; redelivering it writes it again.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from moto import mock_aws
from telemetry.adapters.readings_dynamodb import DynamoDbReadingStore
from telemetry.adapters.readings_timestream import TimestreamReadingStore
from telemetry.models.metrics import Aggregation, DataType
from telemetry.models.readings import Measure, Record, SeriesKind
from telemetry.ports.readings import ReadingStore

from tests.fakes.readings import InMemoryReadingStore
from tests.fakes.timestream import TimestreamFake
from tests.integration.conftest import create_table_from_template

ORG, KIND, TABLE = "org_p", SeriesKind.THING, "readings"
METRICS = ("soc", "temp", "hum")
_series = itertools.count()

pytestmark = pytest.mark.usefixtures("fake_aws_env")

Key = tuple[int, int]  # (time, version)

readings = st.dictionaries(
    keys=st.tuples(st.sampled_from([0, 1000, 1500, 60_000]), st.integers(1, 12)),
    values=st.dictionaries(st.sampled_from(METRICS), st.integers(-50, 50).map(float), min_size=1),
    min_size=1,
    max_size=20,
)


@st.composite
def deliveries(draw: st.DrawFn) -> tuple[dict[Key, dict[str, float]], list[list[Key]]]:
    """Accepted readings, then the order they reach the store in: shuffled, some twice, in chunks."""
    accepted = draw(readings)
    keys = list(accepted)
    sent = draw(st.permutations(keys + draw(st.lists(st.sampled_from(keys), max_size=5))))
    cuts = sorted(draw(st.sets(st.integers(1, max(1, len(sent) - 1)), max_size=4)))
    chunks = [sent[a:b] for a, b in itertools.pairwise([0, *cuts, len(sent)]) if sent[a:b]]
    return accepted, chunks


def expected(accepted: dict[Key, dict[str, float]]) -> dict[int, dict[str, float]]:
    rows: dict[int, dict[str, tuple[int, float]]] = {}
    for (time, version), values in accepted.items():
        row = rows.setdefault(time, {})
        for name, value in values.items():
            if name not in row or row[name][0] < version:
                row[name] = (version, value)
    return {t: {n: v for n, (_, v) in row.items()} for t, row in sorted(rows.items())}


@pytest.fixture(scope="module")
def ddb() -> Iterator[Any]:
    with mock_aws():
        client = boto3.client("dynamodb", region_name="us-east-1")
        create_table_from_template(client, "ReadingsTable", TABLE)
        yield client


def check(store: ReadingStore, accepted: dict[Key, dict[str, float]], chunks: list[list[Key]]) -> None:
    series = f"s{next(_series)}"

    def record(key: Key) -> Record:
        time, version = key
        measures = {n: Measure(DataType.Double, v) for n, v in accepted[key].items()}
        return Record(ORG, KIND, series, time, measures, version)

    for chunk in chunks:
        assert store.write([record(k) for k in chunk]) == []
    want = expected(accepted)

    rows, cursor = store.history(ORG, KIND, series, 0, 100_000)
    assert cursor is None
    assert {r.time: {n: m.value for n, m in r.measures.items()} for r in rows} == want
    paged: list[Record] = []
    while True:  # pages of one time each must agree with the whole
        page, cursor = store.history(ORG, KIND, series, 0, 100_000, limit=1, cursor=cursor, descending=True)
        paged += page
        if cursor is None:
            break
    assert paged == rows[::-1]

    latest = store.latest(ORG, KIND, series)
    assert latest is not None and latest.time == max(want)
    assert {n: m.value for n, m in latest.measures.items()} == want[max(want)]

    aggregations = {"soc": Aggregation.Sum, "temp": Aggregation.Count, "hum": Aggregation.Max}
    buckets: dict[int, dict[str, list[float]]] = {}
    for time, row in want.items():
        for name, value in row.items():
            if name in aggregations:  # an interval with none of the aggregated metrics is no bucket
                buckets.setdefault(time - time % 60_000, {}).setdefault(name, []).append(value)
    got = store.aggregate(ORG, KIND, series, 0, 120_000, 60_000, aggregations)
    assert [(r.start, dict(r.values)) for r in got] == [
        (
            start,
            {
                "soc": sum(b["soc"]) if "soc" in b else None,
                "temp": len(b.get("temp", [])),
                "hum": max(b["hum"]) if "hum" in b else None,
            },
        )
        for start, b in sorted(buckets.items())
    ]


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(case=deliveries())
def test_dynamodb_rows_depend_only_on_what_was_accepted(ddb: Any, case: Any) -> None:
    check(DynamoDbReadingStore(TABLE, client=ddb, sleep=lambda _: None), *case)


@pytest.fixture(scope="module")
def timestream() -> TimestreamReadingStore:
    fake = TimestreamFake(page_rows=7)  # small pages: every read must follow NextToken
    fake.create_table("telemetry", TABLE)
    write, query = fake.clients()
    return TimestreamReadingStore("telemetry", TABLE, write, query, sleep=lambda _: None)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(case=deliveries())
def test_timestream_rows_depend_only_on_what_was_accepted(timestream: TimestreamReadingStore, case: Any) -> None:
    check(timestream, *case)


def test_timestream_latest_reads_past_one_query_page_of_versions(timestream: TimestreamReadingStore) -> None:
    accepted = {(5000, v): {f"m{v}": float(v)} for v in range(1, 20)} | {(1000, 1): {"old": 1.0}}
    check(timestream, accepted, [list(accepted)])


@settings(max_examples=200, deadline=None)
@given(case=deliveries())
def test_memory_rows_depend_only_on_what_was_accepted(case: Any) -> None:
    check(InMemoryReadingStore(), *case)


def test_latest_reads_past_one_query_page_of_versions(ddb: Any) -> None:
    # more versions of the greatest time than one latest Query page holds
    accepted = {(5000, v): {f"m{v}": float(v)} for v in range(1, 20)} | {(1000, 1): {"old": 1.0}}
    check(DynamoDbReadingStore(TABLE, client=ddb), accepted, [list(accepted)])
