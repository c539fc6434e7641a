"""Bucket dialect on in-memory adapters: buckets/data sources mapped onto platform things, point
validation in the document's zod-style terms, batches, queries, the per-key rate limit."""

from __future__ import annotations

import re
from typing import Any

import orjson
import pytest
from telemetry.bootstrap.dakkio import DakkioServices
from telemetry.errors import Forbidden, MalformedRequest, NotFound, RateLimited, Unavailable, ValidationFailed
from telemetry.http.dakkio import error_response
from telemetry.models.auth import Principal
from telemetry.models.dakkio import BucketCreate, DataSourceCreate
from telemetry.services.dakkio.ratelimit import RateLimit, TokenBucketLimiter
from telemetry.services.writer import write_batch

from tests.fakes import in_memory_container
from tests.fakes.readings import InMemoryReadingQueue

SCHEMA = {
    "temperature": {"type": "number", "required": True},
    "humidity": {"type": "integer"},
    "pressure": {"type": "number"},
    "door": {"type": "boolean"},
    "label": {"type": "string"},
}


class World:
    def __init__(self) -> None:
        self.c = in_memory_container()
        self.s = DakkioServices(self.c, RateLimit(burst=3, per_second=1.0))
        self.who = self.c.keys.authenticate(self.c.keys.issue("acme").key)
        self.bucket = self.s.buckets.create_bucket(self.who, BucketCreate(name="home"))
        self.source = self.s.buckets.create_data_source(
            self.who, self.bucket.id, DataSourceCreate.model_validate({"name": "esp32", "schema": SCHEMA})
        )

    def point(self, **over: Any) -> dict[str, Any]:
        doc: dict[str, Any] = {
            "bucketId": self.bucket.id,
            "dataSourceId": self.source.id,
            "timestamp": "2024-01-15T10:30:00Z",
            "values": {"temperature": 22.5, "humidity": 65, "pressure": 1013.25},
            "metadata": {"deviceId": "ESP32-001", "location": "Living Room", "batteryLevel": 85},
        }
        doc.update(over)
        return doc

    def one(self, doc: Any) -> dict[str, Any]:
        return self.s.ingest.ingest_one(self.who, orjson.dumps(doc)).model_dump(by_alias=True)

    def batch(self, doc: Any) -> dict[str, Any]:
        return self.s.ingest.ingest_batch(self.who, orjson.dumps(doc)).model_dump(by_alias=True)

    def query(self, params: dict[str, str]) -> dict[str, Any]:
        return self.s.queries.query(self.who, params).model_dump(by_alias=True)

    def flush(self) -> None:
        queue = self.c.queue
        assert isinstance(queue, InMemoryReadingQueue)
        for b in queue.batches:
            write_batch(self.c.readings, b)
        queue.batches.clear()


@pytest.fixture
def w() -> World:
    return World()


def details(exc: pytest.ExceptionInfo[ValidationFailed]) -> list[dict[str, Any]]:
    return error_response(exc.value)[2]["details"]


# ---------------------------------------------------------------- definitions
def test_bucket_is_a_fleet_and_data_source_a_thing(w: World) -> None:
    assert len(w.bucket.id) == 24 and len(w.source.id) == 24
    fleet = w.c.repo.get_place(w.who.org_id, w.bucket.fleetId)
    assert fleet is not None and fleet.tags == {"bucketId": w.bucket.id}
    thing = w.c.repo.get_thing(w.who.org_id, w.source.thingId)
    assert thing is not None and thing.placeId == w.bucket.fleetId
    ctx = w.c.contexts.resolve(w.who, w.source.thingId)
    assert set(ctx.by_name) == {"temperature", "humidity", "pressure", "door", "label", "dakkio.point"}
    assert ctx.by_name["humidity"].dataType.value == "Int"


def test_value_keys_reuse_dialect_metrics_and_avoid_foreign_ones(w: World) -> None:
    again = w.s.buckets.create_data_source(
        w.who,
        w.bucket.id,
        DataSourceCreate.model_validate({"name": "b", "schema": {"temperature": {"type": "number"}}}),
    )
    assert again.metricIds["temperature"] == w.source.metricIds["temperature"]
    clash = w.s.buckets.create_data_source(
        w.who,
        w.bucket.id,
        DataSourceCreate.model_validate({"name": "c", "schema": {"temperature": {"type": "string"}}}),
    )
    metric = w.c.repo.get_metric(w.who.org_id, clash.metricIds["temperature"])
    assert metric is not None and metric.name == f"temperature.{clash.id}" and metric.dataType.value == "String"


def test_definitions_need_scopes_and_are_tenant_scoped(w: World) -> None:
    reader = Principal(org_id=w.who.org_id, key_id="k", scopes=frozenset({"buckets:read"}))
    with pytest.raises(Forbidden):
        w.s.buckets.create_bucket(reader, BucketCreate(name="x"))
    other = w.c.keys.authenticate(w.c.keys.issue("other").key)
    with pytest.raises(NotFound):
        w.s.buckets.get_bucket(other, w.bucket.id)
    with pytest.raises(NotFound):
        w.s.ingest.ingest_one(other, orjson.dumps(w.point()))


def test_schema_keys_must_be_metric_names() -> None:
    with pytest.raises(ValueError):
        DataSourceCreate.model_validate({"name": "x", "schema": {"bad key": {"type": "number"}}})
    with pytest.raises(ValueError):
        DataSourceCreate.model_validate({"name": "x", "schema": {"a": {"type": "float"}}})


# ---------------------------------------------------------------- single point
def test_the_documents_example_is_echoed(w: World) -> None:
    out = w.one(w.point())
    assert out["message"] == "Data point ingested successfully"
    p = out["dataPoint"]
    assert list(p) == ["_id", "bucketId", "dataSourceId", "timestamp", "values", "metadata", "createdAt"]
    assert len(p["_id"]) == 24 and int(p["_id"], 16) >= 0
    assert p["timestamp"] == "2024-01-15T10:30:00Z"
    assert p["values"] == {"temperature": 22.5, "humidity": 65, "pressure": 1013.25}
    assert p["metadata"]["deviceId"] == "ESP32-001"
    assert p["createdAt"].endswith("Z")


def test_timestamp_defaults_to_now_and_keeps_milliseconds(w: World) -> None:
    doc = w.point()
    del doc["timestamp"]
    assert w.one(doc)["dataPoint"]["timestamp"].endswith("Z")
    assert w.one(w.point(timestamp="2024-01-15T10:30:00.123Z"))["dataPoint"]["timestamp"] == "2024-01-15T10:30:00.123Z"
    assert (
        w.one(w.point(timestamp="2024-01-15T10:30:00.123456Z"))["dataPoint"]["timestamp"] == "2024-01-15T10:30:00.123Z"
    )


def test_shape_errors_are_reported_together(w: World) -> None:
    with pytest.raises(ValidationFailed) as info:
        w.one({"dataSourceId": 5, "timestamp": "15/01/2024", "values": [], "metadata": "x"})
    assert details(info) == [
        {"path": ["body", "bucketId"], "message": "Expected string, received undefined"},
        {"path": ["body", "dataSourceId"], "message": "Expected string, received number"},
        {"path": ["body", "timestamp"], "message": "Invalid datetime"},
        {"path": ["body", "values"], "message": "Expected object, received array"},
        {"path": ["body", "metadata"], "message": "Expected object, received string"},
    ]


def test_values_against_the_schema(w: World) -> None:
    with pytest.raises(ValidationFailed) as info:
        w.one(w.point(values={"humidity": 65.5, "pressure": "1013", "door": 1, "label": None, "x": 1}))
    assert details(info) == [
        {"path": ["body", "values", "x"], "message": "Unrecognized key(s) in object: 'x'"},
        {"path": ["body", "values", "temperature"], "message": "Expected number, received undefined"},
        {"path": ["body", "values", "humidity"], "message": "Expected integer, received float"},
        {"path": ["body", "values", "pressure"], "message": "Expected number, received string"},
        {"path": ["body", "values", "door"], "message": "Expected boolean, received number"},
        {"path": ["body", "values", "label"], "message": "Expected string, received null"},
    ]
    assert w.c.queue.batches == []  # type: ignore[attr-defined]


def test_an_empty_string_value_is_refused_at_the_door(w: World) -> None:
    """Timestream cannot store an empty measure value: accepted here, it was dead-lettered by the
    writer on that backend (lost after a 201). One rule for every path and both stores."""
    with pytest.raises(ValidationFailed) as info:
        w.one(w.point(values={**w.point()["values"], "label": ""}))
    assert details(info) == [
        {"path": ["body", "values", "label"], "message": "String must contain at least 1 character(s)"}
    ]
    assert w.c.queue.batches == []  # type: ignore[attr-defined]


def test_unknown_bucket_and_data_source_are_404(w: World) -> None:
    with pytest.raises(NotFound, match=r"^Bucket not found$"):
        w.one(w.point(bucketId="507f1f77bcf86cd799439011"))
    with pytest.raises(NotFound, match=r"^Data source not found$"):
        w.one(w.point(dataSourceId="507f1f77bcf86cd799439012"))
    other = w.s.buckets.create_bucket(w.who, BucketCreate(name="other"))
    with pytest.raises(NotFound, match=r"^Data source not found$"):
        w.one(w.point(bucketId=other.id))


def test_write_scope_and_malformed_json(w: World) -> None:
    reader = Principal(org_id=w.who.org_id, key_id="k", scopes=frozenset({"data:read"}))
    with pytest.raises(Forbidden):
        w.s.ingest.ingest_one(reader, orjson.dumps(w.point()))
    with pytest.raises(MalformedRequest):
        w.s.ingest.ingest_one(w.who, b"{nope")


def test_queue_outage_is_unavailable(w: World) -> None:
    w.c.queue.fail = True  # type: ignore[attr-defined]
    with pytest.raises(Unavailable):
        w.one(w.point())


# ---------------------------------------------------------------- batch
def test_batch_is_all_or_nothing_and_paths_carry_the_index(w: World) -> None:
    good = {k: v for k, v in w.point().items() if k != "bucketId"}
    bad = {**good, "values": {"temperature": 1, "x": 2}}
    with pytest.raises(ValidationFailed) as info:
        w.batch({"bucketId": w.bucket.id, "dataPoints": [good, good, good, bad]})
    assert details(info) == [
        {"path": ["body", "dataPoints", 3, "values", "x"], "message": "Unrecognized key(s) in object: 'x'"}
    ]
    assert w.c.queue.batches == []  # type: ignore[attr-defined]
    out = w.batch({"bucketId": w.bucket.id, "dataPoints": [good, {**good, "timestamp": "2024-01-15T10:31:00Z"}]})
    assert out["message"] == "Data points ingested successfully" and out["count"] == 2
    assert len(w.c.queue.batches) == 1  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("points", "message"),
    [([], "Array must contain at least 1 element(s)"), ([{}] * 1001, "Array must contain at most 1000 element(s)")],
)
def test_batch_size_limits(w: World, points: list[Any], message: str) -> None:
    with pytest.raises(ValidationFailed) as info:
        w.batch({"bucketId": w.bucket.id, "dataPoints": points})
    assert details(info) == [{"path": ["body", "dataPoints"], "message": message}]


def test_batch_unknown_data_source_is_404(w: World) -> None:
    point = {"dataSourceId": "507f1f77bcf86cd799439012", "values": {"temperature": 1}}
    with pytest.raises(NotFound, match=r"^Data source not found$"):
        w.batch({"bucketId": w.bucket.id, "dataPoints": [point]})


# ---------------------------------------------------------------- query and platform visibility
def test_query_returns_points_in_the_ingest_shape_and_the_platform_sees_them(w: World) -> None:
    first = w.one(w.point())["dataPoint"]
    second = w.one(w.point(timestamp="2024-01-15T10:31:00Z", values={"temperature": 23.0}))["dataPoint"]
    w.flush()
    out = w.query({"bucketId": w.bucket.id})
    assert out["dataPoints"] == [second, first]
    asc = w.query({"bucketId": w.bucket.id, "dataSourceId": w.source.id, "order": "asc", "limit": "1"})
    assert asc["dataPoints"] == [first] and asc["hasMore"] is True
    ranged = w.query({"bucketId": w.bucket.id, "startTime": "2024-01-15T10:30:30Z"})
    assert ranged["dataPoints"] == [second]
    latest = w.c.queries.latest(w.who, w.source.thingId)
    assert latest["metrics"]["temperature"] == 23.0
    assert latest["metrics"]["dakkio.point"]["_id"] == second["_id"]


def test_a_point_measure_written_through_the_platform_still_reads_as_a_documented_point(w: World) -> None:
    """The data source's thing takes frames too, and its Json metric any JSON: a ``dakkio.point``
    whose ``_id``, ``metadata`` or ``createdAt`` is off-shape must not make the query fail (its
    typed answer refused it: a 500); the point gets the derived id, ``{}`` and its own time."""
    frame = {
        "timestamp": 1705314600000,  # 2024-01-15T10:30:00Z
        "metrics": {"temperature": 21.0, "dakkio.point": {"_id": 7, "metadata": "x", "createdAt": []}},
    }
    w.c.ingest.ingest(w.who, w.source.thingId, orjson.dumps({"frames": [frame]}))
    w.flush()
    (point,) = w.query({"bucketId": w.bucket.id})["dataPoints"]
    assert re.fullmatch("[0-9a-f]{24}", point["_id"])
    assert point["metadata"] == {} and point["createdAt"] == point["timestamp"] == "2024-01-15T10:30:00Z"
    assert point["values"] == {"temperature": 21.0}


def test_the_query_echo_writes_early_years_with_four_digits(w: World) -> None:
    out = w.query({"bucketId": w.bucket.id, "startTime": "0001-01-01T00:00:00Z", "endTime": "0999-01-01T00:00:00Z"})
    assert out["query"]["startTime"] == "0001-01-01T00:00:00Z"
    assert out["query"]["endTime"] == "0999-01-01T00:00:00Z"


def test_query_validation(w: World) -> None:
    with pytest.raises(ValidationFailed) as info:
        w.s.queries.query(w.who, {"limit": "x", "startTime": "yesterday", "order": "up"})
    assert [d["path"] for d in details(info)] == [
        ["query", "bucketId"],
        ["query", "startTime"],
        ["query", "limit"],
        ["query", "order"],
    ]


def test_same_time_replaces_the_point(w: World) -> None:
    w.one(w.point())
    w.flush()
    replaced = w.one(w.point(values={"temperature": 30.0}))["dataPoint"]
    w.flush()
    assert w.query({"bucketId": w.bucket.id})["dataPoints"] == [replaced]


# ---------------------------------------------------------------- rate limit
def test_token_bucket_refuses_then_refills() -> None:
    c = in_memory_container()
    now = [1000.0]
    limiter = TokenBucketLimiter(c.repo.store, RateLimit(burst=3, per_second=0.5), clock=lambda: now[0])
    who = Principal(org_id="o", key_id="k1", scopes=frozenset({"*"}))
    for _ in range(3):
        limiter.take(who)
    with pytest.raises(RateLimited) as info:
        limiter.take(who)
    assert info.value.retry_after_seconds == 2
    status, headers, body = error_response(info.value)
    assert status == 429 and headers["Retry-After"] == "2" and body["error"] == "Too Many Requests"
    limiter.take(Principal(org_id="o", key_id="k2", scopes=frozenset({"*"})))  # other keys unaffected
    now[0] += 2.0
    limiter.take(who)
    with pytest.raises(RateLimited):
        limiter.take(who)


def test_a_second_container_shares_the_state() -> None:
    c = in_memory_container()
    who = Principal(org_id="o", key_id="k", scopes=frozenset({"*"}))
    a = TokenBucketLimiter(c.repo.store, RateLimit(burst=2, per_second=0.001), clock=lambda: 5.0)
    b = TokenBucketLimiter(c.repo.store, RateLimit(burst=2, per_second=0.001), clock=lambda: 5.0)
    a.take(who)
    b.take(who)
    with pytest.raises(RateLimited):
        a.take(who)


def test_error_bodies_match_the_document() -> None:
    from telemetry.errors import Unauthenticated

    assert error_response(Unauthenticated("x"))[:3:2] == (
        401,
        {"error": "Unauthorized", "message": "Invalid or missing API key"},
    )
    assert error_response(NotFound("Bucket not found"))[2] == {"error": "Not Found", "message": "Bucket not found"}
    assert error_response(Unavailable("queue down"))[0] == 503
