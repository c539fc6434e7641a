"""TimestreamReadingStore: WriteRecords on moto; SQL, result parsing and RejectedRecords via Stubber.

moto stores WriteRecords payloads but does not run Timestream SQL nor reject records, so the SQL
we generate, the parsing of Query results and the RejectedRecordsException handling are checked
against botocore's Stubber (which validates every request and response against the API model).
"""

from __future__ import annotations

import base64
from collections import Counter
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.stub import ANY, Stubber
from moto import mock_aws
from moto.core import DEFAULT_ACCOUNT_ID
from moto.timestreamwrite.models import timestreamwrite_backends
from telemetry.adapters.readings_timestream import TimestreamReadingStore, classify_rejection, parse_timestamp
from telemetry.errors import Unavailable, ValidationFailed
from telemetry.models.metrics import Aggregation, DataType
from telemetry.models.readings import Measure, Record, SeriesKind

DB, TABLE, ORG = "telemetry", "readings", "org_a"
KIND = SeriesKind.SENSOR


pytestmark = pytest.mark.usefixtures("fake_aws_env")


def rec(time: int, version: int = 1, series: str = "s1", **measures: Measure) -> Record:
    return Record(ORG, KIND, series, time, measures or {"temp": Measure(DataType.Double, 1.5)}, version)


def stubbed_store() -> tuple[TimestreamReadingStore, Any, Any]:
    # an explicit endpoint turns endpoint discovery off, so the Stubber sees only our calls
    write = boto3.client("timestream-write", region_name="us-east-1", endpoint_url="https://ingest.example")
    query = boto3.client("timestream-query", region_name="us-east-1", endpoint_url="https://query.example")
    return TimestreamReadingStore(DB, TABLE, write, query, sleep=lambda _: None), write, query


def captured_sql(query_client: Any) -> list[str]:
    sql: list[str] = []
    query_client.meta.events.register(
        "before-parameter-build.timestream-query.Query", lambda params, **_: sql.append(params["QueryString"])
    )
    return sql


# --- writes on moto ---------------------------------------------------------------------------


@pytest.fixture
def moto_store() -> Iterator[tuple[TimestreamReadingStore, Counter[str]]]:
    with mock_aws():
        client = boto3.client("timestream-write", region_name="us-east-1")
        client.create_database(DatabaseName=DB)
        client.create_table(DatabaseName=DB, TableName=TABLE)
        calls: Counter[str] = Counter()
        client.meta.events.register("before-call.timestream-write.WriteRecords", lambda **_: calls.update(["w"]))
        yield TimestreamReadingStore(DB, TABLE, write_client=client), calls


def stored_records() -> list[dict[str, Any]]:
    backend = timestreamwrite_backends[DEFAULT_ACCOUNT_ID]["us-east-1"]
    return list(backend.databases[DB].tables[TABLE].records)


def test_writes_one_record_per_measure_in_batches_of_100(moto_store: Any) -> None:
    store, calls = moto_store
    measures = {
        "temp": Measure(DataType.Double, 21.25),
        "count": Measure(DataType.Int, 7),
        "on": Measure(DataType.Bool, True),
        "label": Measure(DataType.String, "a'b"),
        "cfg": Measure(DataType.Json, {"k": [1, 2]}),
    }
    records = [Record(ORG, KIND, "s1", 1_700_000_000_000 + t, measures, 42, {"site": "n"}) for t in range(250)]

    assert store.write(records) == []

    assert calls["w"] == 13  # 250 readings x 5 measures = 1250 Timestream records, 100 per call
    stored = stored_records()
    first = [r for r in stored if r["Time"] == "1700000000000"]
    assert {r["MeasureName"] for r in first} == {"temp", "count", "on", "label", "cfg"}
    for record in first:
        assert record["MeasureValueType"] == "MULTI" and record["TimeUnit"] == "MILLISECONDS"
        assert record["Version"] == 42
        assert {d["Name"]: d["Value"] for d in record["Dimensions"]} == {
            "_org": ORG,
            "_kind": "sensor",
            "_series": "s1",
            "_d_site": "n",
        }
    values = {r["MeasureName"]: {(m["Name"], m["Type"], m["Value"]) for m in r["MeasureValues"]} for r in first}
    version = ("_version", "BIGINT", "42")
    assert values == {
        "temp": {("temp", "DOUBLE", "21.25"), version},
        "count": {("count", "BIGINT", "7"), version},
        "on": {("on", "BOOLEAN", "true"), version},
        "label": {("label", "VARCHAR", "a'b"), version},
        "cfg": {("cfg", "VARCHAR", '{"k":[1,2]}'), version, ("_json", "VARCHAR", '["cfg"]')},
    }


def test_a_later_request_with_another_metric_is_a_record_of_its_own(moto_store: Any) -> None:
    """Issue 8.7: Timestream's record identity is (dimensions, measure name, time); with the metric
    as the measure name a later version upserts that metric only, never the other metrics' record."""
    store, _ = moto_store
    store.write([rec(1000, version=2, soc=Measure(DataType.Double, 50.0))])
    store.write([rec(1000, version=3, temp=Measure(DataType.Double, 20.0))])
    identities = [
        (r["MeasureName"], r["Time"], r["Version"], tuple(sorted(d["Value"] for d in r["Dimensions"])))
        for r in stored_records()
    ]
    assert len(set((name, time, dims) for name, time, _, dims in identities)) == 2  # no upsert over "soc"
    assert sorted((name, version) for name, _, version, _ in identities) == [("soc", 2), ("temp", 3)]


def test_a_reading_refused_in_one_measure_is_reported_once() -> None:
    store, write, _ = stubbed_store()
    two = rec(1, version=5, a=Measure(DataType.Double, 1.0), b=Measure(DataType.Double, 2.0))
    with Stubber(write) as stub:
        stub.add_client_error(
            "write_records",
            "RejectedRecordsException",
            http_status_code=419,
            modeled_fields=rejected(
                {"RecordIndex": 1, "Reason": "Measure value type mismatch with the existing column"},
                {"RecordIndex": 2, "Reason": "Measure value type mismatch with the existing column"},
                {"RecordIndex": 3, "Reason": "Measure value type mismatch with the existing column"},
            ),
        )
        result = store.write([two, rec(2, version=5, a=Measure(DataType.Double, 1.0), b=Measure(DataType.Double, 2.0))])
    assert [(r.index, r.retryable) for r in result] == [(0, False), (1, False)]


def test_invalid_records_are_dead_lettered_without_a_call(moto_store: Any) -> None:
    store, calls = moto_store
    rejected = store.write([rec(1, ts_x=Measure(DataType.Int, 1)), rec(2, v=Measure(DataType.Int, 1.5))])
    assert [(r.index, r.retryable) for r in rejected] == [(0, False), (1, False)]
    assert calls["w"] == 0


def test_an_empty_string_is_dead_lettered_alone_and_the_rest_of_the_batch_is_stored(moto_store: Any) -> None:
    """Timestream refuses an empty measure value (botocore's model: Value min length 1). Before,
    the whole WriteRecords failed client-side and the batch was Unavailable (redelivered until the
    DLQ) for one empty String metric; now only that reading is refused, for good, with a reason."""
    store, _ = moto_store
    rejected = store.write([rec(1, label=Measure(DataType.String, "")), rec(2, label=Measure(DataType.String, "x"))])
    assert [(r.index, r.retryable) for r in rejected] == [(0, False)]
    assert "empty" in rejected[0].reason
    assert [r["Time"] for r in stored_records()] == ["2"]


def test_missing_table_is_unavailable(moto_store: Any) -> None:
    store, _ = moto_store
    other = TimestreamReadingStore(DB, "nope", write_client=store.write_client)
    with pytest.raises(Unavailable):
        other.write([rec(1)])


def test_default_clients_honour_aws_endpoint_url(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:4566")
    store = TimestreamReadingStore(DB, TABLE)
    assert store.write_client.meta.endpoint_url == "http://127.0.0.1:4566"
    assert store.query_client.meta.endpoint_url == "http://127.0.0.1:4566"


def test_invalid_database_name_is_refused_at_construction() -> None:
    with pytest.raises(ValueError):
        TimestreamReadingStore('db"; DROP', TABLE)


# --- RejectedRecordsException ---------------------------------------------------------------


def rejected(*entries: dict[str, Any]) -> dict[str, Any]:
    return {"RejectedRecords": list(entries)}


def test_rejected_records_retry_dead_letter_or_succeed() -> None:
    store, write, _ = stubbed_store()
    records = [rec(t, version=10) for t in range(5)]
    with Stubber(write) as stub:
        stub.add_client_error(
            "write_records",
            "RejectedRecordsException",
            "One or more records have been rejected.",
            http_status_code=419,
            modeled_fields=rejected(
                {"RecordIndex": 0, "Reason": "A record with a higher version exists.", "ExistingVersion": 11},
                {"RecordIndex": 1, "Reason": "Rate of requests exceeded: throttled"},
                {"RecordIndex": 2, "Reason": "The record timestamp is outside the time range of the memory store."},
                {"RecordIndex": 4, "Reason": "Something nobody documented"},
            ),
        )
        # the retry carries exactly the retryable ones (indexes 1 and 4), in order
        retry_params = {"DatabaseName": DB, "TableName": TABLE, "Records": ANY}
        stub.add_response("write_records", {"RecordsIngested": {"Total": 2}}, retry_params)
        sent: list[list[str]] = []
        write.meta.events.register(
            "before-parameter-build.timestream-write.WriteRecords",
            lambda params, **_: sent.append([r["Time"] for r in params["Records"]]),
        )
        result = store.write(records)
        stub.assert_no_pending_responses()
    assert [(r.index, r.retryable) for r in result] == [(2, False)]
    assert "outside the time range" in result[0].reason
    assert sent == [["0", "1", "2", "3", "4"], ["1", "4"]]


def test_retryable_rejections_left_after_the_retries_are_returned_as_retryable() -> None:
    store, write, _ = stubbed_store()
    with Stubber(write) as stub:
        for _ in range(4):
            stub.add_client_error(
                "write_records",
                "RejectedRecordsException",
                http_status_code=419,
                modeled_fields=rejected({"RecordIndex": 0, "Reason": "Internal error, try again"}),
            )
        result = store.write([rec(1), rec(2)])
    assert [(r.index, r.retryable) for r in result] == [(0, True)]


@pytest.mark.parametrize(
    ("reason", "existing", "verdict"),
    [
        ("duplicate record", 5, None),  # same version already stored: idempotent success
        ("duplicate record", 4, True),
        ("ThrottlingException", None, True),
        ("Measure value type mismatch with the existing column", None, False),
        ("record exceeds the maximum number of dimensions limit", None, False),
        ("The record timestamp is outside the retention period", None, False),
    ],
)
def test_classify_rejection(reason: str, existing: int | None, verdict: bool | None) -> None:
    assert classify_rejection(reason, existing, 5) is verdict


def test_throttled_request_is_unavailable() -> None:
    store, write, _ = stubbed_store()
    with Stubber(write) as stub:
        stub.add_client_error("write_records", "ThrottlingException", http_status_code=429)
        with pytest.raises(Unavailable):
            store.write([rec(1)])


# --- queries --------------------------------------------------------------------------------


def column(name: str, scalar: str) -> dict[str, Any]:
    return {"Name": name, "Type": {"ScalarType": scalar}}


def datum(value: str | None) -> dict[str, Any]:
    return {"NullValue": True} if value is None else {"ScalarValue": value}


STAR_COLUMNS = [
    column("_org", "VARCHAR"),
    column("_kind", "VARCHAR"),
    column("_series", "VARCHAR"),
    column("_d_site", "VARCHAR"),
    column("measure_name", "VARCHAR"),
    column("time", "TIMESTAMP"),
    column("temp", "DOUBLE"),
    column("count", "BIGINT"),
    column("on", "BOOLEAN"),
    column("label", "VARCHAR"),
    column("cfg", "VARCHAR"),
    column("_version", "BIGINT"),
    column("_json", "VARCHAR"),
]


def star_row(time: str, temp: str | None, site: str | None = "n", cfg: str | None = '{"k":[1]}') -> dict[str, Any]:
    values = [ORG, "sensor", "o'brien", site, "reading", time, temp, "7", "true", "x", cfg, "42"]
    values.append('["cfg"]' if cfg else None)
    return {"Data": [datum(v) for v in values]}


def test_latest_escapes_ids_and_parses_the_typed_row() -> None:
    store, _, query = stubbed_store()
    sql = captured_sql(query)
    with Stubber(query) as stub:
        stub.add_response(
            "query",
            {"QueryId": "q1", "ColumnInfo": STAR_COLUMNS, "Rows": [star_row("2023-11-14 22:13:20.250000000", "21.5")]},
        )
        latest = store.latest(ORG, KIND, "o'brien")
    where = "\"_org\" = 'org_a' AND \"_kind\" = 'sensor' AND \"_series\" = 'o''brien'"
    assert sql == [
        f'SELECT * FROM "telemetry"."readings" WHERE {where}'
        f' AND time = (SELECT max(time) FROM "telemetry"."readings" WHERE {where})'
    ]
    assert latest == Record(
        ORG,
        KIND,
        "o'brien",
        1_700_000_000_250,
        {
            "temp": Measure(DataType.Double, 21.5),
            "count": Measure(DataType.Int, 7),
            "on": Measure(DataType.Bool, True),
            "label": Measure(DataType.String, "x"),
            "cfg": Measure(DataType.Json, {"k": [1]}),
        },
        42,
        {"site": "n"},
    )


def test_latest_of_an_unknown_series_is_none() -> None:
    store, _, query = stubbed_store()
    with Stubber(query) as stub:
        stub.add_response("query", {"QueryId": "q", "ColumnInfo": STAR_COLUMNS, "Rows": []})
        assert store.latest(ORG, KIND, "none") is None


PER_MEASURE_COLUMNS = [
    column("_org", "VARCHAR"),
    column("_kind", "VARCHAR"),
    column("_series", "VARCHAR"),
    column("measure_name", "VARCHAR"),
    column("time", "TIMESTAMP"),
    column("soc", "DOUBLE"),
    column("temp", "DOUBLE"),
    column("_version", "BIGINT"),
]


def measure_row(time: str, name: str, value: str, version: int) -> dict[str, Any]:
    cells = {"soc": None, "temp": None, name: value}
    values = [ORG, "sensor", "s1", name, time, cells["soc"], cells["temp"], str(version)]
    return {"Data": [datum(v) for v in values]}


def test_latest_merges_the_rows_of_one_time_per_metric() -> None:
    """Issue 8.7: one query row per measure; the latest time's rows become one record."""
    store, _, query = stubbed_store()
    rows = [measure_row("2023-11-14 22:13:20", "soc", "50.0", 2), measure_row("2023-11-14 22:13:20", "temp", "20.0", 3)]
    with Stubber(query) as stub:
        stub.add_response("query", {"QueryId": "q", "ColumnInfo": PER_MEASURE_COLUMNS, "Rows": rows})
        latest = store.latest(ORG, KIND, "s1")
    assert latest == Record(
        ORG,
        KIND,
        "s1",
        1_700_000_000_000,
        {"soc": Measure(DataType.Double, 50.0), "temp": Measure(DataType.Double, 20.0)},
        3,
    )


def test_history_pages_by_time_and_merges_each_time() -> None:
    store, _, query = stubbed_store()
    sql = captured_sql(query)
    t0, t1, t2 = "2023-11-14 22:13:20", "2023-11-14 22:13:21", "2023-11-14 22:13:22.5"
    with Stubber(query) as stub:
        # a Timestream page may end in the middle of a time: rows of the next page still belong to it
        stub.add_response(
            "query",
            {
                "QueryId": "q",
                "ColumnInfo": PER_MEASURE_COLUMNS,
                "Rows": [measure_row(t2, "soc", "3.0", 1), measure_row(t1, "soc", "2.0", 1)],
                "NextToken": "n1",
            },
        )
        stub.add_response(
            "query",
            {
                "QueryId": "q",
                "ColumnInfo": PER_MEASURE_COLUMNS,
                "Rows": [measure_row(t1, "temp", "21.0", 2), measure_row(t0, "soc", "1.0", 1)],
            },
        )
        page, cursor = store.history(ORG, KIND, "s1", 0, 2_000_000_000_000, limit=2, descending=True)
        stub.add_response(
            "query", {"QueryId": "q", "ColumnInfo": PER_MEASURE_COLUMNS, "Rows": [measure_row(t0, "soc", "1.0", 1)]}
        )
        page2, cursor2 = store.history(
            ORG, KIND, "s1", 0, 2_000_000_000_000, measures=["soc"], limit=2, descending=True, cursor=cursor
        )
        stub.assert_no_pending_responses()
    assert [(r.time, {n: m.value for n, m in r.measures.items()}) for r in page] == [
        (1_700_000_002_500, {"soc": 3.0}),
        (1_700_000_001_000, {"soc": 2.0, "temp": 21.0}),
    ]
    assert cursor and base64.urlsafe_b64decode(cursor + "==").decode() == "T#001700000001000"
    assert "SELECT DISTINCT time" in sql[0] and "ORDER BY time DESC LIMIT 3)" in sql[0]
    assert "time < from_milliseconds(1700000001000)" in sql[2]
    assert [r.time for r in page2] == [1_700_000_000_000] and cursor2 is None


def test_bad_or_foreign_cursor_is_a_validation_error() -> None:
    store, _, _ = stubbed_store()
    for bad in (
        "***",
        base64.urlsafe_b64encode(b"someone-elses").decode(),
        base64.urlsafe_b64encode(b"T#000000000000099").decode(),
    ):
        with pytest.raises(ValidationFailed) as info:
            store.history(ORG, KIND, "s1", 0, 10, cursor=bad)
        assert info.value.errors[0].path == ("continuationToken",)


def test_aggregate_sql_and_parsing() -> None:
    store, _, query = stubbed_store()
    sql = captured_sql(query)
    aggregations = {
        "temp": Aggregation.Avg,
        "count": Aggregation.Sum,
        "on": Aggregation.Count,
        "label": Aggregation.Last,
        "lo": Aggregation.Min,
        "hi": Aggregation.Max,
        "first": Aggregation.First,
    }
    columns = [column("_bucket", "BIGINT")] + [
        column(f"a{i}", t)
        for i, t in enumerate(["DOUBLE", "BIGINT", "BIGINT", "VARCHAR", "DOUBLE", "BIGINT", "DOUBLE"])
    ]
    rows = [
        {"Data": [datum(v) for v in ["60000", "1.5", "3", "2", "x", "0.5", "9", "0.25"]]},
        {"Data": [datum(v) for v in ["120000", None, None, "1", "y", None, None, None]]},
    ]
    types = {"temp": "double", "count": "bigint", "on": "boolean", "label": "varchar", "lo": "double"}
    types |= {"hi": "bigint", "first": "double", "time": "timestamp", "_org": "varchar"}
    described = {
        "QueryId": "d",
        "ColumnInfo": [column(n, "VARCHAR") for n in ("Column", "Type", "Timestream attribute type")],
        "Rows": [{"Data": [datum(n), datum(t), datum("MULTI")]} for n, t in types.items()],
    }
    with Stubber(query) as stub:
        stub.add_response("query", described)
        stub.add_response("query", {"QueryId": "q", "ColumnInfo": columns, "Rows": rows, "NextToken": "n"})
        stub.add_response("query", {"QueryId": "q", "ColumnInfo": columns, "Rows": []})
        result = store.aggregate(ORG, KIND, "s1", 0, 180_000, 60_000, aggregations)
    assert sql[0] == 'DESCRIBE "telemetry"."readings"'
    text = sql[1]
    for fragment in (
        'to_milliseconds(bin(time, 60000ms)) AS "_bucket"',
        'avg("temp") AS "a0"',
        'sum("count") AS "a1"',
        'count("on") AS "a2"',
        'max_by("label", CASE WHEN "label" IS NOT NULL THEN time END) AS "a3"',
        'min("lo") AS "a4"',
        'max("hi") AS "a5"',
        'min_by("first", CASE WHEN "first" IS NOT NULL THEN time END) AS "a6"',
        'GROUP BY bin(time, 60000ms) HAVING count("temp") > 0 OR count("count") > 0',
        "ORDER BY 1 ASC",
    ):
        assert fragment in text
    assert [(r.start, dict(r.values)) for r in result] == [
        (60000, {"temp": 1.5, "count": 3, "on": 2, "label": "x", "lo": 0.5, "hi": 9, "first": 0.25}),
        (120000, {"temp": None, "count": None, "on": 1, "label": "y", "lo": None, "hi": None, "first": None}),
    ]


def test_aggregates_of_a_metric_without_a_column_or_of_a_non_numeric_column_are_null() -> None:
    """The contract (reading_rules.compute_aggregates): Avg/Sum/Min/Max of non-numeric values are
    None and Count 0; a metric the table has never had is no column at all, which Timestream refuses
    to query (a 503 before); an interval with a value of any asked metric is still a bucket."""
    store, _, query = stubbed_store()
    sql = captured_sql(query)
    described = {
        "QueryId": "d",
        "ColumnInfo": [column(n, "VARCHAR") for n in ("Column", "Type", "Timestream attribute type")],
        "Rows": [{"Data": [datum("label"), datum("varchar"), datum("MULTI")]}],
    }
    asked = {"label": Aggregation.Min, "never": Aggregation.Count}
    with Stubber(query) as stub:
        stub.add_response("query", described)
        stub.add_response(
            "query",
            {
                "QueryId": "q",
                "ColumnInfo": [column("_bucket", "BIGINT"), column("a0", "UNKNOWN"), column("a1", "UNKNOWN")],
                "Rows": [{"Data": [datum("0"), datum(None), datum(None)]}],
            },
        )
        result = store.aggregate(ORG, KIND, "s1", 0, 60_000, 60_000, asked)
    assert 'NULL AS "a0"' in sql[1] and 'NULL AS "a1"' in sql[1] and 'HAVING count("label") > 0' in sql[1]
    assert '"never"' not in sql[1]
    assert [(r.start, dict(r.values)) for r in result] == [(0, {"label": None, "never": 0})]
    with Stubber(query) as stub:  # "never" is not cached: DESCRIBE again; still no column: no query at all
        stub.add_response("query", {**described, "Rows": []})
        assert store.aggregate(ORG, KIND, "s1", 0, 60_000, 60_000, {"never": Aggregation.Avg}) == []


@pytest.mark.parametrize("name", ['temp") AS x FROM t --', "a b", "measure_value::double", "ts_x", "1temp"])
def test_measure_names_that_are_not_identifiers_never_reach_sql(name: str) -> None:
    store, _, query = stubbed_store()
    with Stubber(query), pytest.raises(ValidationFailed):
        store.aggregate(ORG, KIND, "s1", 0, 10, 1, {name: Aggregation.Avg})


def test_query_failure_is_unavailable() -> None:
    store, _, query = stubbed_store()
    with Stubber(query) as stub:
        stub.add_client_error("query", "ThrottlingException", http_status_code=429)
        with pytest.raises(Unavailable):
            store.latest(ORG, KIND, "s1")


def test_parse_timestamp() -> None:
    assert parse_timestamp("1970-01-01 00:00:01.5") == 1500
    assert parse_timestamp("2023-11-14 22:13:20.123456789") == 1_700_000_000_123
    assert parse_timestamp("2023-11-14 22:13:20") == 1_700_000_000_000
