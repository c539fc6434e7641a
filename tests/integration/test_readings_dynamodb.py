"""DynamoDbReadingStore against moto's DynamoDB (real item layout, conditions, queries)."""

from __future__ import annotations

import base64
from collections import Counter
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.stub import Stubber
from moto import mock_aws
from telemetry.adapters.readings_dynamodb import DynamoDbReadingStore, series_pk
from telemetry.errors import Unavailable, ValidationFailed
from telemetry.models.metrics import Aggregation, DataType
from telemetry.models.readings import Measure, Record, SeriesKind

from tests.integration.conftest import create_table_from_template

TABLE = "readings"
ORG = "org_a"
KIND = SeriesKind.THING


pytestmark = pytest.mark.usefixtures("fake_aws_env")


@pytest.fixture
def client() -> Iterator[Any]:
    with mock_aws():
        ddb = boto3.client("dynamodb", region_name="us-east-1")
        create_table_from_template(ddb, "ReadingsTable", TABLE)
        yield ddb


@pytest.fixture
def calls(client: Any) -> Counter[str]:
    """Store calls by operation name, counted with a botocore event hook."""
    counter: Counter[str] = Counter()

    def count(model: Any, **_: Any) -> None:
        counter[model.name] += 1

    client.meta.events.register("before-call.dynamodb.*", count)
    return counter


@pytest.fixture
def store(client: Any) -> DynamoDbReadingStore:
    return DynamoDbReadingStore(TABLE, client=client, sleep=lambda _: None)


def rec(time: int, version: int = 1, series: str = "s1", org: str = ORG, **measures: Any) -> Record:
    typed = {name: m if isinstance(m, Measure) else Measure(DataType.Double, m) for name, m in measures.items()}
    return Record(org, KIND, series, time, typed or {"temp": Measure(DataType.Double, 1.0)}, version)


def values(records: list[Record], name: str = "temp") -> list[Any]:
    return [r.measures[name].value for r in records]


def test_redelivery_is_idempotent(store: DynamoDbReadingStore, client: Any) -> None:
    # Given a batch written once
    batch = [rec(t, version=7, temp=float(t)) for t in range(0, 3000, 100)]
    assert store.write(batch) == []
    # When the same batch is delivered again
    assert store.write(batch) == []
    # Then the table holds one item per reading (and no separate latest item), and the one
    # minute, hour and day rollup of those readings once each (the minute's n is unchanged)
    sks = sorted(i["sk"]["S"] for i in client.scan(TableName=TABLE)["Items"])
    assert sum(sk.startswith("T#") for sk in sks) == 30
    # (the minute's fingerprint: 30 times x one measure of version 7, each counted 7 + 1)
    assert [sk for sk in sks if not sk.startswith("T#")] == [f"D#{0:015d}", f"H#{0:015d}", f"M#{0:015d}#{240:025d}"]
    rows, _ = store.history(ORG, KIND, "s1", 0, 10_000)
    assert values(rows) == [float(t) for t in range(0, 3000, 100)]


def test_higher_version_replaces_and_lower_version_never_overwrites(store: DynamoDbReadingStore) -> None:
    store.write([rec(1000, version=2, temp=2.0)])
    store.write([rec(1000, version=3, temp=3.0)])
    store.write([rec(1000, version=1, temp=1.0)])  # a late redelivery of an older message

    rows, _ = store.history(ORG, KIND, "s1", 0, 2000)
    assert [(r.version, r.measures["temp"].value) for r in rows] == [(3, 3.0)]
    latest = store.latest(ORG, KIND, "s1")
    assert latest is not None and (latest.version, values([latest])) == (3, [3.0])


def test_latest_only_moves_forward_on_backfill(store: DynamoDbReadingStore) -> None:
    store.write([rec(5000, temp=5.0)])
    store.write([rec(t, version=9, temp=float(t)) for t in (1000, 2000)])  # backfill, even with a higher version
    latest = store.latest(ORG, KIND, "s1")
    assert latest is not None and latest.time == 5000

    store.write([rec(5000, version=2, temp=6.0)])  # same time, higher version
    latest = store.latest(ORG, KIND, "s1")
    assert latest is not None and values([latest]) == [6.0]
    assert store.latest(ORG, KIND, "nothing-here") is None


def test_typed_measures_round_trip_exactly(store: DynamoDbReadingStore) -> None:
    measures = {
        "d": Measure(DataType.Double, 0.1 + 0.2),
        "tiny": Measure(DataType.Double, 5e-324),  # outside DynamoDB's number range
        "huge": Measure(DataType.Double, 1.7e308),
        "whole": Measure(DataType.Double, 3.0),
        "i": Measure(DataType.Int, -(2**63)),
        "b": Measure(DataType.Bool, False),
        "s": Measure(DataType.String, "héllo #1"),
        "j": Measure(DataType.Json, {"a": [1, 2.5, None, "x"]}),
    }
    record = Record("org#1", KIND, "series#%", 42, measures, 1, {"site": "north"})
    assert store.write([record]) == []

    rows, _ = store.history("org#1", KIND, "series#%", 0, 100)
    assert rows == [record]
    got = rows[0].measures
    assert type(got["whole"].value) is float and type(got["i"].value) is int
    assert store.latest("org#1", KIND, "series#%") == record


def test_tenants_with_hash_in_ids_cannot_collide() -> None:
    assert series_pk("a", KIND, "x#thing#y") != series_pk("a#thing#x", KIND, "y")


def test_history_pages_ascending_and_descending(store: DynamoDbReadingStore) -> None:
    store.write([rec(t, temp=float(t)) for t in range(0, 100, 10)])
    store.write([rec(50, version=2, temp=55.0)])  # two versions of one time must read as one row

    seen, cursor, pages = [], None, 0
    while True:
        page, cursor = store.history(ORG, KIND, "s1", 10, 90, limit=3, cursor=cursor)
        seen += values(page)
        pages += 1
        if cursor is None:
            break
    assert seen == [10.0, 20.0, 30.0, 40.0, 55.0, 60.0, 70.0, 80.0]
    assert pages == 3

    desc, cursor = store.history(ORG, KIND, "s1", 0, 100, limit=4, descending=True)
    assert values(desc) == [90.0, 80.0, 70.0, 60.0]
    desc2, _ = store.history(ORG, KIND, "s1", 0, 100, limit=4, descending=True, cursor=cursor)
    assert values(desc2) == [55.0, 40.0, 30.0, 20.0]


def test_history_measure_filter_projects_and_skips(store: DynamoDbReadingStore) -> None:
    store.write([rec(1, temp=1.0, hum=10.0), rec(2, hum=20.0), rec(3, temp=3.0)])
    rows, _ = store.history(ORG, KIND, "s1", 0, 10, measures=["temp"])
    assert [(r.time, sorted(r.measures)) for r in rows] == [(1, ["temp"]), (3, ["temp"])]


def test_tampered_cursor_is_a_validation_error_and_cannot_cross_tenants(store: DynamoDbReadingStore) -> None:
    store.write([rec(t) for t in range(5)] + [rec(t, org="org_b", temp=99.0) for t in range(5)])
    _, cursor = store.history(ORG, KIND, "s1", 0, 10, limit=2)
    assert cursor

    for bad in ("%%%", base64.urlsafe_b64encode(b'{"pk": "org_b#thing#s1"}').decode(), cursor[:-3]):
        with pytest.raises(ValidationFailed) as info:
            store.history(ORG, KIND, "s1", 0, 10, limit=2, cursor=bad)
        assert info.value.errors[0].path == ("continuationToken",)

    # a valid cursor used by another org only ever pages that org's own series
    page, _ = store.history("org_b", KIND, "s1", 0, 10, limit=10, cursor=cursor)
    assert values(page) == [99.0, 99.0, 99.0]


@pytest.mark.parametrize(
    ("aggregation", "expected"),
    [
        (Aggregation.Avg, [(0, 1.5), (1000, 10.0), (3000, None)]),
        (Aggregation.Sum, [(0, 3), (1000, 10), (3000, None)]),
        (Aggregation.Min, [(0, 1), (1000, 10), (3000, None)]),
        (Aggregation.Max, [(0, 2), (1000, 10), (3000, None)]),
        (Aggregation.Count, [(0, 2), (1000, 1), (3000, 1)]),
        (Aggregation.First, [(0, 1), (1000, 10), (3000, "n/a")]),
        (Aggregation.Last, [(0, 2), (1000, 10), (3000, "n/a")]),
    ],
)
def test_aggregate_per_interval(store: DynamoDbReadingStore, aggregation: Aggregation, expected: list[Any]) -> None:
    def int_measure(v: int) -> Measure:
        return Measure(DataType.Int, v)

    store.write(
        [
            rec(100, level=int_measure(1)),
            rec(900, level=int_measure(2)),
            rec(1999, level=int_measure(10)),
            rec(2500, temp=4.0),  # no "level": the interval is empty for it
            rec(3000, level=Measure(DataType.String, "n/a")),
            rec(4000, level=int_measure(1000)),  # end is exclusive
        ]
    )
    rows = store.aggregate(ORG, KIND, "s1", 0, 4000, 1000, {"level": aggregation})
    assert [(r.start, r.values["level"]) for r in rows] == expected
    if aggregation is Aggregation.Avg:
        assert isinstance(rows[1].values["level"], float)


def test_writes_use_one_batch_call_per_25_and_nothing_else_without_rollups(client: Any, calls: Counter[str]) -> None:
    store = DynamoDbReadingStore(TABLE, client=client, rollups=False)
    records = [rec(t, series=f"s{t % 3}") for t in range(1000)]
    assert store.write(records) == []
    assert calls == Counter({"BatchWriteItem": 40})


def test_rollups_cost_a_bounded_number_of_calls_per_touched_bucket(
    store: DynamoDbReadingStore, calls: Counter[str]
) -> None:
    # Given 1000 readings of 3 series inside one minute
    records = [rec(t, series=f"s{t % 3}") for t in range(1000)]
    assert store.write(records) == []
    # Then: 40 raw batches + 1 for the 3 minute rollups; per series one consistent Query for its
    # raw items, minutes and hours, and one conditional PutItem for its hour and its day
    assert calls == Counter({"BatchWriteItem": 41, "Query": 9, "PutItem": 6})


def test_duplicate_records_in_one_call_are_written_once(store: DynamoDbReadingStore, calls: Counter[str]) -> None:
    assert store.write([rec(1), rec(1), rec(2)]) == []
    assert calls["BatchWriteItem"] == 2  # the two distinct items, then their minute rollup
    assert len(store.history(ORG, KIND, "s1", 0, 10)[0]) == 2


def test_unprocessed_items_are_retried_with_backoff() -> None:
    """Stubbed: moto never returns UnprocessedItems, DynamoDB does when throttling a batch."""
    client = boto3.client("dynamodb", region_name="us-east-1")
    sleeps: list[float] = []
    store = DynamoDbReadingStore(TABLE, client=client, sleep=sleeps.append, max_attempts=3, rollups=False)
    records = [rec(1), rec(2)]
    item = {"pk": {"S": "org_a#thing#s1"}, "sk": {"S": "T#000000000000002#00000000000000000001"}}
    unprocessed = {"UnprocessedItems": {TABLE: [{"PutRequest": {"Item": item}}]}}
    # one item left unprocessed, then everything processed
    with Stubber(client) as stub:
        stub.add_response("batch_write_item", unprocessed)
        stub.add_response("batch_write_item", {"UnprocessedItems": {}})
        assert store.write(records) == []
        stub.assert_no_pending_responses()
    assert len(sleeps) == 1

    with Stubber(client) as stub:
        for _ in range(3):
            stub.add_response("batch_write_item", unprocessed)
        rejected = store.write(records)
    assert [(r.index, r.retryable) for r in rejected] == [(1, True)]


def test_item_over_400kb_is_refused_alone(store: DynamoDbReadingStore) -> None:
    big = Measure(DataType.String, "x" * 410_000)
    rejected = store.write([rec(1), rec(2, blob=big), rec(3)])
    assert [(r.index, r.retryable) for r in rejected] == [(1, False)]
    assert [r.time for r in store.history(ORG, KIND, "s1", 0, 10)[0]] == [1, 3]


def test_missing_table_is_unavailable(client: Any) -> None:
    store = DynamoDbReadingStore("no-such-table", client=client)
    with pytest.raises(Unavailable):
        store.write([rec(1)])
    with pytest.raises(Unavailable):
        store.latest(ORG, KIND, "s1")


def test_unreachable_endpoint_is_unavailable() -> None:
    client = boto3.client(
        "dynamodb",
        region_name="us-east-1",
        endpoint_url="http://127.0.0.1:9",
        config=Config(retries={"max_attempts": 1, "mode": "standard"}, connect_timeout=1),
    )
    with pytest.raises(Unavailable):
        DynamoDbReadingStore(TABLE, client=client).history(ORG, KIND, "s1", 0, 10)


def test_validation_error_on_a_batch_is_narrowed_to_the_refused_item() -> None:
    """Stubbed: DynamoDB refuses a whole BatchWriteItem for one bad item; the store isolates it."""
    client = boto3.client("dynamodb", region_name="us-east-1")
    store = DynamoDbReadingStore(TABLE, client=client, rollups=False)
    with Stubber(client) as stub:
        stub.add_client_error("batch_write_item", "ValidationException", "Item size has exceeded the maximum")
        stub.add_response("batch_write_item", {"UnprocessedItems": {}})
        stub.add_client_error("batch_write_item", "ValidationException", "Item size has exceeded the maximum")
        stub.add_response("batch_write_item", {"UnprocessedItems": {}})
        rejected = store.write([rec(1), rec(2), rec(3)])
        stub.assert_no_pending_responses()
    assert [(r.index, r.retryable) for r in rejected] == [(1, False)]
    assert "exceeded" in rejected[0].reason


def test_throttling_after_retries_is_unavailable() -> None:
    """Stubbed: throttling cannot be provoked on moto."""
    client = boto3.client("dynamodb", region_name="us-east-1")
    with Stubber(client) as stub:
        stub.add_client_error("batch_write_item", "ProvisionedThroughputExceededException", http_status_code=400)
        with pytest.raises(Unavailable):
            DynamoDbReadingStore(TABLE, client=client, rollups=False).write([rec(1)])


# --- per-metric upserts (issue 8.7) ---------------------------------------------------------------


def merged(store: DynamoDbReadingStore, time: int = 1000) -> dict[str, Any]:
    rows, _ = store.history(ORG, KIND, "s1", time, time + 1)
    assert len(rows) == 1
    return {name: m.value for name, m in rows[0].measures.items()}


def test_a_later_version_of_other_metrics_keeps_the_earlier_metrics(store: DynamoDbReadingStore) -> None:
    # Given the state of charge for an instant, and a moment later the temperature for the same instant
    store.write([rec(1000, version=2, soc=50.0)])
    store.write([rec(1000, version=3, temp=20.0)])
    # Then history, latest and aggregates all show both metrics
    assert merged(store) == {"soc": 50.0, "temp": 20.0}
    latest = store.latest(ORG, KIND, "s1")
    assert latest is not None and latest.time == 1000 and latest.version == 3
    assert {n: m.value for n, m in latest.measures.items()} == {"soc": 50.0, "temp": 20.0}
    rows = store.aggregate(ORG, KIND, "s1", 0, 2000, 1000, {"soc": Aggregation.Count, "temp": Aggregation.Max})
    assert [(r.start, dict(r.values)) for r in rows] == [(1000, {"soc": 1, "temp": 20.0})]


def test_per_metric_upserts_are_order_and_redelivery_independent(client: Any) -> None:
    writes = [
        [rec(1000, version=2, soc=50.0, temp=19.0)],
        [rec(1000, version=3, temp=20.0)],
        [rec(1000, version=4, soc=51.0)],
        [rec(1000, version=1, soc=1.0, hum=7.0)],  # oldest: only fills a metric nobody else sent
    ]
    results = []
    for order in ([0, 1, 2, 3], [3, 2, 1, 0], [2, 0, 3, 1, 2, 0]):  # the last one redelivers two
        series = f"s{len(results)}"
        store = DynamoDbReadingStore(TABLE, client=client)
        for i in order:
            store.write([Record(r.org_id, r.kind, series, r.time, r.measures, r.version) for r in writes[i]])
        rows, _ = store.history(ORG, KIND, series, 0, 2000)
        latest = store.latest(ORG, KIND, series)
        assert latest is not None and latest == rows[0]
        results.append({n: m.value for n, m in rows[0].measures.items()})
    assert results == [{"soc": 51.0, "temp": 20.0, "hum": 7.0}] * 3


def test_history_pages_merge_every_version_of_a_time(store: DynamoDbReadingStore) -> None:
    # many versions of one time must not be split across pages, whatever the page limit
    store.write([rec(t, version=1, a=float(t)) for t in range(0, 50, 10)])
    for version in range(2, 8):
        store.write([rec(20, version=version, **{f"m{version}": float(version)})])
    seen: list[Record] = []
    cursor = None
    while True:
        page, cursor = store.history(ORG, KIND, "s1", 0, 100, limit=2, cursor=cursor)
        seen += page
        if cursor is None:
            break
    assert [r.time for r in seen] == [0, 10, 20, 30, 40]
    assert sorted(seen[2].measures) == ["a", "m2", "m3", "m4", "m5", "m6", "m7"]
    assert store.history(ORG, KIND, "s1", 0, 100, measures=["m5"])[0][0].measures["m5"].value == 5.0
