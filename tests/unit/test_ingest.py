"""Frames ingest and queries on in-memory adapters: the spec's step 4 rules, one test each."""

from __future__ import annotations

from typing import Any

import orjson
import pytest
from telemetry.errors import (
    FailedDependency,
    MalformedRequest,
    NotFound,
    PayloadTooLarge,
    Unavailable,
    ValidationFailed,
)
from telemetry.models.auth import Principal
from telemetry.models.metrics import MetricCreate
from telemetry.models.places import PlaceCreate, PlaceKind
from telemetry.models.thing_types import ThingTypeCreate
from telemetry.models.things import ThingCreate
from telemetry.services.ingest import MAX_FRAMES
from telemetry.validation import parse

from tests.fakes import in_memory_container
from tests.fakes.readings import InMemoryReadingQueue, InMemoryReadingStore

T0 = 1718884800000


class World:
    def __init__(self) -> None:
        self.c = in_memory_container()
        self.who = self.c.keys.authenticate(self.c.keys.issue("acme").key)
        specs: list[dict[str, Any]] = [
            {
                "name": "status",
                "dataType": "Int",
                "defaultAggregation": "Last",
                "enumValues": [{"code": 0, "label": "IDLE"}, {"code": 1, "label": "RUNNING"}],
            },
            {
                "name": "moduleSoC",
                "dataType": "Double",
                "defaultAggregation": "Avg",
                "validRange": {"min": 0, "max": 100},
            },
            {"name": "moduleSoH", "dataType": "Double", "defaultAggregation": "Min"},
            {"name": "moduleVoltage", "dataType": "Double", "defaultAggregation": "Max"},
            {"name": "moduleCurrent", "dataType": "Double", "defaultAggregation": "Sum"},
            {"name": "online", "dataType": "Bool", "defaultAggregation": "Last"},
            {"name": "firmware", "dataType": "String", "defaultAggregation": "Last"},
        ]
        self.metric_ids = {s["name"]: self.c.metrics.create(self.who, parse(MetricCreate, s)).id for s in specs}
        type_id = self.c.thing_types.create(
            self.who, ThingTypeCreate(displayName="Battery", metricIds=list(self.metric_ids.values()))
        ).id
        site = self.c.places.create(self.who, PlaceKind.site, PlaceCreate(name="HQ"))
        self.site = site.id
        self.thing = self.c.things.create(
            self.who, PlaceKind.site, site.id, ThingCreate(thingName="A1", thingTypeId=type_id)
        ).id
        self.untyped = self.c.things.create(self.who, PlaceKind.site, site.id, ThingCreate(thingName="bare")).id

    @property
    def queue(self) -> InMemoryReadingQueue:
        return self.c.queue  # type: ignore[return-value]

    @property
    def store(self) -> InMemoryReadingStore:
        return self.c.readings  # type: ignore[return-value]

    def post(self, body: Any, thing: str | None = None, who: Principal | None = None) -> Any:
        raw = body if isinstance(body, bytes) else orjson.dumps(body)
        return self.c.ingest.ingest(who or self.who, thing or self.thing, raw)

    def drain(self) -> None:
        for batch in self.queue.batches:
            assert self.store.write(batch.records) == []
        self.queue.batches.clear()


@pytest.fixture
def w() -> World:
    return World()


SPEC_FRAME = {
    "timestamp": T0,
    "metrics": {"status": 1, "moduleSoC": 87.4, "moduleSoH": 98.1, "moduleVoltage": 52.3, "moduleCurrent": 12.1},
}


def test_spec_example_is_accepted_with_its_summary(w: World) -> None:
    result = w.post({"frames": [SPEC_FRAME]})
    assert (result.thingId, result.framesIngested) == (w.thing, 1)
    assert result.metrics == ["status", "moduleSoC", "moduleSoH", "moduleVoltage", "moduleCurrent"]
    assert len(w.queue.batches) == 1 and len(w.queue.batches[0]) == 1


def test_names_match_case_insensitively_and_map_to_ids(w: World) -> None:
    w.post({"frames": [{"timestamp": T0, "metrics": {"MODULESOC": "50", "status": "running", "online": "true"}}]})
    (record,) = w.queue.batches[0].records
    assert dict((k, m.value) for k, m in record.measures.items()) == {
        w.metric_ids["moduleSoC"]: 50.0,
        w.metric_ids["status"]: 1,
        w.metric_ids["online"]: True,
    }


@pytest.mark.parametrize(
    ("body", "path"),
    [
        ({"frames": []}, ("frames",)),
        ({}, ("frames",)),
        ({"frames": [{"timestamp": T0, "metrics": {}}]}, ("frames", 0, "metrics")),
        ({"frames": [{"metrics": {"status": 1}}]}, ("frames", 0, "timestamp")),
        ({"frames": [{"timestamp": "2024-01-01", "metrics": {"status": 1}}]}, ("frames", 0, "timestamp")),
        ({"frames": [SPEC_FRAME, {"timestamp": T0, "metrics": {"torque": 1}}]}, ("frames", 1, "metrics", "torque")),
        ({"frames": [{"timestamp": T0, "metrics": {"moduleSoC": "full"}}]}, ("frames", 0, "metrics", "moduleSoC")),
        ({"frames": [{"timestamp": T0, "metrics": {"moduleSoC": [1]}}]}, ("frames", 0, "metrics", "moduleSoC")),
        ({"frames": [{"timestamp": T0, "metrics": {"moduleSoC": 100.5}}]}, ("frames", 0, "metrics", "moduleSoC")),
        ({"frames": [{"timestamp": T0, "metrics": {"status": "EXPLODED"}}]}, ("frames", 0, "metrics", "status")),
        ({"frames": [{"timestamp": T0, "metrics": {"soc": 1, "extra": 2}, "x": 1}]}, ("frames", 0, "x")),
        (
            {"frames": [{"timestamp": T0, "metrics": {"moduleSoC": 1, "MODULESOC": 2}}]},
            ("frames", 0, "metrics", "MODULESOC"),
        ),
        ({"frames": [{"timestamp": 10**16, "metrics": {"status": 1}}]}, ("frames", 0, "timestamp")),
        # accepted before, then dead-lettered by the Timestream writer: the empty string
        ({"frames": [{"timestamp": T0, "metrics": {"firmware": ""}}]}, ("frames", 0, "metrics", "firmware")),
    ],
)
def test_violations_are_400_naming_frame_and_metric_and_nothing_is_enqueued(
    w: World, body: dict[str, Any], path: tuple[Any, ...]
) -> None:
    with pytest.raises(ValidationFailed) as err:
        w.post(body)
    assert path in [e.path for e in err.value.errors]
    assert w.queue.batches == []


def test_one_bad_frame_rejects_the_whole_request(w: World) -> None:
    frames = [dict(SPEC_FRAME, timestamp=T0 + i) for i in range(50)]
    frames[37] = {"timestamp": T0, "metrics": {"moduleVoltage": "high"}}
    with pytest.raises(ValidationFailed, match="frames/37/metrics/moduleVoltage"):
        w.post({"frames": frames})
    assert w.queue.batches == []


def test_malformed_json_and_limits(w: World) -> None:
    with pytest.raises(MalformedRequest):
        w.post(b'{"frames": [')
    with pytest.raises(PayloadTooLarge):
        w.post({"frames": [SPEC_FRAME] * (MAX_FRAMES + 1)})


def test_thing_without_type_is_424(w: World) -> None:
    with pytest.raises(FailedDependency):
        w.post({"frames": [SPEC_FRAME]}, thing=w.untyped)


def test_unknown_or_foreign_thing_is_404(w: World) -> None:
    other = w.c.keys.authenticate(w.c.keys.issue("globex").key)
    with pytest.raises(NotFound):
        w.post({"frames": [SPEC_FRAME]}, who=other)
    with pytest.raises(NotFound):
        w.post({"frames": [SPEC_FRAME]}, thing="thing_nope")


def test_queue_outage_is_unavailable_and_nothing_is_stored(w: World) -> None:
    w.queue.fail = True
    with pytest.raises(Unavailable):
        w.post({"frames": [SPEC_FRAME]})
    w.drain()
    assert w.store.count() == 0


def test_read_back_latest_history_aggregates(w: World) -> None:
    frames = [{"timestamp": T0 + i * 30_000, "metrics": {"moduleSoC": 10.0 * i, "status": i % 2}} for i in range(6)]
    w.post({"frames": frames})
    w.post({"frames": [{"timestamp": T0 - 3_600_000, "metrics": {"moduleSoC": 1.0}}]})  # backfill
    w.drain()
    latest = w.c.queries.latest(w.who, w.thing)
    assert latest["timestamp"] == T0 + 150_000 and latest["metrics"] == {"moduleSoC": 50.0, "status": 1}
    hist = w.c.queries.history(
        w.who, w.thing, start=str(T0 - 4_000_000), end=str(T0 + 10**6), metrics="modulesoc", limit=4, cursor=None
    )
    assert [f["metrics"]["moduleSoC"] for f in hist["frames"]] == [1.0, 0.0, 10.0, 20.0]
    more = w.c.queries.history(
        w.who,
        w.thing,
        start=str(T0 - 4_000_000),
        end=str(T0 + 10**6),
        metrics="moduleSoC",
        limit=4,
        cursor=hist["continuationToken"],
    )
    assert [f["metrics"]["moduleSoC"] for f in more["frames"]] == [30.0, 40.0, 50.0]
    assert "continuationToken" not in more
    agg = w.c.queries.aggregates(
        w.who,
        w.thing,
        start=str(T0),
        end=str(T0 + 180_000),
        interval="1m",
        metrics="moduleSoC,status:Count",
        aggregation=None,
    )
    assert agg["aggregations"] == {"moduleSoC": "Avg", "status": "Count"}
    assert [b["metrics"] for b in agg["buckets"]] == [
        {"moduleSoC": 5.0, "status": 2},
        {"moduleSoC": 25.0, "status": 2},
        {"moduleSoC": 45.0, "status": 2},
    ]


def test_numeric_aggregation_on_enum_metric_is_refused(w: World) -> None:
    with pytest.raises(ValidationFailed, match="status"):
        w.c.queries.aggregates(
            w.who, w.thing, start=None, end=None, interval="1h", metrics="status:Avg", aggregation=None
        )


@pytest.mark.parametrize("interval", ["30s", "2d", "soon"])
def test_interval_must_be_between_a_minute_and_a_day(w: World, interval: str) -> None:
    with pytest.raises(ValidationFailed, match="interval"):
        w.c.queries.aggregates(w.who, w.thing, start=None, end=None, interval=interval, metrics=None, aggregation=None)


def test_two_spellings_of_a_metric_across_frames_with_one_timestamp_merge_by_id(w: World) -> None:
    # Given the same metric spelled two ways in two frames of the same instant
    w.post(
        {
            "frames": [
                {"timestamp": T0, "metrics": {"moduleSoC": 10}},
                {"timestamp": T0, "metrics": {"MODULESOC": 20, "status": "IDLE"}},
            ]
        }
    )
    # Then they are one reading, keyed by metric id, the later value winning
    (record,) = w.queue.batches[0].records
    assert {k: m.value for k, m in record.measures.items()} == {
        w.metric_ids["moduleSoC"]: 20.0,
        w.metric_ids["status"]: 0,
    }


def test_writer_gets_metric_ids_not_the_names_as_sent(w: World) -> None:
    w.post({"frames": [SPEC_FRAME]})
    (record,) = w.queue.batches[0].records
    assert set(record.measures) == {w.metric_ids[n] for n in SPEC_FRAME["metrics"]}  # type: ignore[attr-defined]
    assert record.measures[w.metric_ids["moduleSoC"]].value == 87.4


def test_context_cache_is_bounded(w: World, monkeypatch: pytest.MonkeyPatch) -> None:
    from telemetry.services import ingest, thing_context

    monkeypatch.setattr(thing_context, "MAX_CACHED_CONTEXTS", 2)
    monkeypatch.setattr(ingest, "MAX_CACHED_CONTEXTS", 2)
    type_id = w.c.things.get(w.who, w.thing).thingTypeId
    things = [
        w.c.things.create(w.who, PlaceKind.site, w.site, ThingCreate(thingName=f"t{i}", thingTypeId=type_id)).id
        for i in range(4)
    ]
    for thing in things:
        w.post({"frames": [SPEC_FRAME]}, thing=thing)
    assert [key[1] for key in w.c.contexts._cache] == things[-2:]  # the newest two, oldest dropped
    assert len(w.c.ingest._plan_cache) == 2


def test_things_of_one_type_and_refreshed_contexts_share_one_typed_decoder(
    w: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Building the typed decoder costs ~0.5 ms: once per set of definitions, not per thing and
    not again each time a thing's context is re-read (every 30 s)."""
    from telemetry.services import ingest

    built: list[object] = []
    real = ingest._build_typed
    monkeypatch.setattr(ingest, "_TYPED_CACHE", {})
    monkeypatch.setattr(ingest, "_build_typed", lambda plans: built.append(plans) or real(plans))
    type_id = w.c.things.get(w.who, w.thing).thingTypeId
    other = w.c.things.create(w.who, PlaceKind.site, w.site, ThingCreate(thingName="B2", thingTypeId=type_id)).id
    frame = {"timestamp": T0, "metrics": {"moduleSoH": 99.0}}
    w.post({"frames": [frame]})
    w.post({"frames": [frame]}, thing=other)
    w.c.contexts._cache.clear()  # as if the TTL passed: new context objects, same definitions
    w.post({"frames": [frame]})
    assert len(built) == 1
    assert len(w.queue.batches) == 3


def test_the_plan_cache_evicts_safely_when_many_threads_fill_it(w: World, monkeypatch: pytest.MonkeyPatch) -> None:
    """Eviction raced: two threads deleting the same oldest plan (KeyError) or iterating while
    another inserts (RuntimeError) made a valid request a 500. A tiny cap and a fast thread
    switch interval make every request evict, so the race shows within a few hundred requests."""
    import sys
    import threading

    import telemetry.services.ingest as ingest_module

    monkeypatch.setattr(ingest_module, "MAX_CACHED_CONTEXTS", 1)
    things = [
        w.c.things.create(
            w.who,
            PlaceKind.site,
            w.site,
            ThingCreate(thingName=f"T{i}", thingTypeId=w.c.things.get(w.who, w.thing).thingTypeId),
        ).id
        for i in range(8)
    ]
    body = orjson.dumps({"frames": [{"timestamp": T0, "metrics": {"moduleSoC": 50.0}}]})
    errors: list[BaseException] = []
    barrier = threading.Barrier(len(things))

    def hammer(thing_id: str) -> None:
        barrier.wait()
        for _ in range(600):
            try:
                w.c.ingest.ingest(w.who, thing_id, body)
            except BaseException as exc:  # any escape is the defect
                errors.append(exc)
                return

    old = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    try:
        threads = [threading.Thread(target=hammer, args=(t,)) for t in things]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    finally:
        sys.setswitchinterval(old)
    assert errors == []
