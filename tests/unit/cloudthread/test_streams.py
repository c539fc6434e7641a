"""Stream dialect on in-memory adapters: tokens, ingest validation, upsert, series index, queries."""

from __future__ import annotations

from typing import Any

import orjson
import pytest
from telemetry.bootstrap.cloudthread import CloudthreadServices
from telemetry.errors import Forbidden, MalformedRequest, NotFound, Unauthenticated, Unavailable, ValidationFailed
from telemetry.models.auth import Principal
from telemetry.models.cloudthread import AggFunc, DataStreamCreate
from telemetry.models.readings import SeriesKind
from telemetry.services.cloudthread.ingest import parse_hourly, series_id
from telemetry.services.writer import write_batch

from tests.fakes import in_memory_container
from tests.fakes.readings import InMemoryReadingQueue

H = 3_600_000
T0 = 1664582400000  # 2022-10-01 00:00:00 UTC


class World:
    def __init__(self) -> None:
        self.c = in_memory_container()
        self.s = CloudthreadServices(self.c)
        self.who = self.c.keys.authenticate(self.c.keys.issue("acme").key)
        self.token = self.s.tokens.create(self.who, DataStreamCreate(name="costs")).token

    def send(self, data: list[dict[str, Any]], agg: str = "Sum", token: str | None = None) -> Any:
        body = {"data_stream_token": token or self.token, "metric_agg_func": agg, "data": data}
        return self.s.ingest.ingest(orjson.dumps(body))

    def flush(self) -> None:
        queue = self.c.queue
        assert isinstance(queue, InMemoryReadingQueue)
        for batch in queue.batches:
            write_batch(self.c.readings, batch)
        queue.batches.clear()

    def query(self, metric: str, **kw: Any) -> dict[str, Any]:
        args: dict[str, Any] = {
            "agg": None,
            "granularity": "hourly",
            "start": "2022-09-30T00:00:00Z",
            "end": "2022-10-03T00:00:00Z",
            "filters": {},
            "group_by": None,
        }
        args.update(kw)
        return self.s.queries.metric(self.who, metric, **args).model_dump()


def point(ts: str = "2022-10-01 00:00:00", value: Any = 1.0, name: str = "cost", **dims: str) -> dict[str, Any]:
    return {"timestamp": ts, "metric_name": name, "metric_value": value, "custom_dimensions": dims}


@pytest.fixture
def w() -> World:
    return World()


# ---------------------------------------------------------------- tokens
def test_token_is_shown_once_and_stored_as_a_hash(w: World) -> None:
    listed = w.s.tokens.list(w.who, 50, None).items
    assert [s.name for s in listed] == ["costs"]
    dumped = orjson.dumps([s.model_dump() for s in listed]).decode()
    assert w.token not in dumped and "tokenHash" not in dumped
    store_dump = orjson.dumps([i.doc for i, _ in w.c.repo.store._items.values()]).decode()  # type: ignore[attr-defined]
    assert w.token not in store_dump


def test_revocation_is_effective_at_once(w: World) -> None:
    w.send([point()])
    stream_id = w.s.tokens.list(w.who, 50, None).items[0].id
    w.s.tokens.revoke(w.who, stream_id)
    with pytest.raises(Unauthenticated):
        w.send([point()])
    with pytest.raises(NotFound):
        w.s.tokens.revoke(w.who, stream_id)


def test_token_scopes_and_tenancy(w: World) -> None:
    reader = Principal(org_id=w.who.org_id, key_id="k", scopes=frozenset({"streams:read"}))
    with pytest.raises(Forbidden):
        w.s.tokens.create(reader, DataStreamCreate(name="x"))
    other = w.c.keys.authenticate(w.c.keys.issue("other").key)
    stream_id = w.s.tokens.list(w.who, 50, None).items[0].id
    with pytest.raises(NotFound):
        w.s.tokens.revoke(other, stream_id)
    assert w.s.tokens.list(other, 50, None).items == []


@pytest.mark.parametrize("token", [None, "", 5, "ctds_wrong", "avy_platformkey"])
def test_missing_or_wrong_token_is_401(w: World, token: Any) -> None:
    body = {"metric_agg_func": "Sum", "data": [point()]}
    if token is not None:
        body["data_stream_token"] = token
    with pytest.raises(Unauthenticated):
        w.s.ingest.ingest(orjson.dumps(body))


# ---------------------------------------------------------------- timestamps and values
@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2022-10-01 00:00:00", T0),
        ("2022-10-01 05:00:00", T0 + 5 * H),
        ("2022-10-01T05:00:00", T0 + 5 * H),
        ("2022-10-01T05:00:00Z", T0 + 5 * H),
        ("2022-10-01T05:00:00.000Z", T0 + 5 * H),
        ("2022-10-01 07:00:00+02:00", T0 + 5 * H),
        ("2022-10-01", T0),
    ],
)
def test_hourly_timestamps_accepted(text: str, expected: int) -> None:
    assert parse_hourly(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "2022-10-01 00:30:00",
        "2022-10-01 00:00:01",
        "2022-10-01 00:00:00.5",
        "2022-10-01 05:00:00+05:30",
        "2022-13-01 00:00:00",
        "01/10/2022",
        1664582400,
        None,
    ],
)
def test_non_hourly_timestamps_refused(text: Any) -> None:
    with pytest.raises(ValueError):
        parse_hourly(text)


def test_errors_name_item_index_and_field_and_nothing_is_ingested(w: World) -> None:
    data = [
        point(),
        point(ts="2022-10-01 00:15:00"),
        point(value="NaN"),
        point(value=True),
        {"timestamp": "2022-10-01 00:00:00", "metric_name": "", "metric_value": "1"},
        point(**{f"d{i}": "x" for i in range(11)}),
        {"timestamp": "2022-10-01 00:00:00", "metric_name": "m", "metric_value": 1, "custom_dimensions": {"a": None}},
    ]
    with pytest.raises(ValidationFailed) as info:
        w.send(data)
    paths = ["/".join(map(str, e.path)) for e in info.value.errors]
    assert paths == [
        "data/1/timestamp",
        "data/2/metric_value",
        "data/3/metric_value",
        "data/4/metric_name",
        "data/5/custom_dimensions",
        "data/6/custom_dimensions/a",
    ]
    assert w.c.queue.batches == []  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("body", "path"),
    [
        ({"metric_agg_func": "Median", "data": [point()]}, "metric_agg_func"),
        ({"data": [point()]}, "metric_agg_func"),
        ({"metric_agg_func": "Sum", "data": []}, "data"),
        ({"metric_agg_func": "Sum"}, "data"),
    ],
)
def test_envelope_errors(w: World, body: dict[str, Any], path: str) -> None:
    with pytest.raises(ValidationFailed) as info:
        w.s.ingest.ingest(orjson.dumps({"data_stream_token": w.token, **body}))
    assert path in ["/".join(map(str, e.path)) for e in info.value.errors]


def test_malformed_json(w: World) -> None:
    with pytest.raises(MalformedRequest):
        w.s.ingest.ingest(b"{nope")


def test_string_values_and_mertic_value_alias_accepted(w: World) -> None:
    result = w.send(
        [point(value="12.5"), {"timestamp": "2022-10-01 01:00:00", "metric_name": "cost", "mertic_value": 3}]
    )
    assert result.ingested == 2
    w.flush()
    out = w.query("cost")
    assert [p["value"] for p in out["groups"][0]["points"]] == [12.5, 3.0]


# ---------------------------------------------------------------- series identity and upsert
def test_series_id_ignores_dimension_order() -> None:
    a = series_id("cost", AggFunc.Sum, {"team": "a", "env": "prod"})
    b = series_id("cost", AggFunc.Sum, {"env": "prod", "team": "a"})
    assert a == b
    assert a != series_id("cost", AggFunc.Average, {"team": "a", "env": "prod"})
    assert a != series_id("cost", AggFunc.Sum, {"team": "a"})


def test_same_series_and_hour_replaces_the_value(w: World) -> None:
    w.send([point(value=1, team="a", env="p")])
    w.flush()
    w.send([{**point(value=7), "custom_dimensions": {"env": "p", "team": "a"}}])
    w.flush()
    sid = series_id("cost", AggFunc.Sum, {"team": "a", "env": "p"})
    rows, _ = w.c.readings.history(w.who.org_id, SeriesKind.STREAM, sid, 0, 2 * T0)
    assert [r.measures["value"].value for r in rows] == [7.0]
    assert w.query("cost")["groups"][0]["points"] == [{"timestamp": "2022-10-01 00:00:00", "value": 7.0, "count": 1}]


def test_within_one_request_the_later_item_wins(w: World) -> None:
    w.send([point(value=1), point(value=2)])
    w.flush()
    assert w.query("cost")["groups"][0]["points"][0]["value"] == 2.0


def test_queue_outage_is_unavailable_and_stores_nothing(w: World) -> None:
    w.c.queue.fail = True  # type: ignore[attr-defined]
    with pytest.raises(Unavailable):
        w.send([point()])
    assert w.c.queue.batches == []  # type: ignore[attr-defined]


# ---------------------------------------------------------------- queries
@pytest.mark.parametrize(
    ("agg", "hourly", "daily"),
    [
        ("Sum", [4.0, 6.0], 10.0),
        ("Average", [2.0, 6.0], 10 / 3),
        ("Maximum", [3.0, 6.0], 6.0),
        ("Minimum", [1.0, 6.0], 1.0),
    ],
)
def test_aggregation_functions(w: World, agg: str, hourly: list[float], daily: float) -> None:
    w.send(
        [point(value=1, team="a"), point(value=3, team="b"), point(ts="2022-10-01 01:00:00", value=6, team="a")],
        agg=agg,
    )
    w.flush()
    out = w.query("cost", agg=agg)
    assert [p["value"] for p in out["groups"][0]["points"]] == hourly
    day = w.query("cost", agg=agg, granularity="daily")["groups"][0]["points"]
    assert day[0]["timestamp"] == "2022-10-01 00:00:00"
    assert day[0]["value"] == pytest.approx(daily)


def test_group_by_and_filter(w: World) -> None:
    w.send([point(value=1, team="a", env="p"), point(value=2, team="b", env="p"), point(value=4, team="b", env="d")])
    w.flush()
    grouped = w.query("cost", group_by="team")
    assert [(g["dimensions"], g["points"][0]["value"]) for g in grouped["groups"]] == [
        ({"team": "a"}, 1.0),
        ({"team": "b"}, 6.0),
    ]
    filtered = w.query("cost", filters={"env": ["p"]}, group_by="team")
    assert [(g["dimensions"]["team"], g["points"][0]["value"]) for g in filtered["groups"]] == [("a", 1.0), ("b", 2.0)]


def test_several_aggregations_need_agg(w: World) -> None:
    w.send([point()], agg="Sum")
    w.send([point()], agg="Maximum")
    w.flush()
    with pytest.raises(ValidationFailed):
        w.query("cost")
    assert w.query("cost", agg="Maximum")["metric_agg_func"] == "Maximum"
    listed = w.s.queries.metrics(w.who)["items"]
    assert listed == [
        {"metricName": "cost", "metricAggFunc": "Maximum", "series": 1},
        {"metricName": "cost", "metricAggFunc": "Sum", "series": 1},
    ]


def test_metric_names_cannot_reach_into_each_other(w: World) -> None:
    w.send([point(name="a#Sum"), point(name="a", value=5)])
    w.flush()
    assert w.query("a")["seriesMatched"] == 1
    assert w.query("a#Sum")["groups"][0]["points"][0]["value"] == 1.0


def test_query_is_tenant_scoped(w: World) -> None:
    w.send([point()])
    w.flush()
    other = w.c.keys.authenticate(w.c.keys.issue("other").key)
    out = w.s.queries.metric(
        other,
        "cost",
        agg=None,
        granularity="hourly",
        start="2022-09-30T00:00:00Z",
        end="2022-10-03T00:00:00Z",
        filters={},
        group_by=None,
    )
    assert out.groups == [] and out.seriesMatched == 0


def test_the_answer_writes_early_years_with_four_digits(w: World) -> None:
    """``%Y`` wrote year 1 as ``1``: ``start`` was ``1-01-01 00:00:00``, not the document's form."""
    w.send([point()])
    w.flush()
    out = w.query("cost", start="0001-01-01T00:00:00Z", end="0001-01-02T00:00:00Z")
    assert (out["start"], out["end"]) == ("0001-01-01 00:00:00", "0001-01-02 00:00:00")
