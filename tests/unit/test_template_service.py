"""The template service on in-memory adapters (real services, no mocks): management, dry run,
apply (ThingData and Transactions), one test per rule of aerovy-templates.md's tables."""

from __future__ import annotations

import threading
from typing import Any

import orjson
import pytest
from telemetry.errors import (
    FailedDependency,
    Forbidden,
    MalformedRequest,
    NotFound,
    PayloadTooLarge,
    Unavailable,
    ValidationFailed,
)
from telemetry.models.auth import Principal
from telemetry.models.metrics import MetricCreate
from telemetry.models.places import PlaceCreate, PlaceKind
from telemetry.models.readings import SeriesKind
from telemetry.models.templates import Template, TemplateStatus
from telemetry.models.thing_types import ThingTypeCreate
from telemetry.models.things import ThingCreate
from telemetry.models.types import DataType
from telemetry.ports.definitions import Item
from telemetry.repositories import templates as templates_repo
from telemetry.repositories.definitions import org_pk
from telemetry.repositories.templates import TemplatesRepository
from telemetry.services.template_service import TemplateDeleted, TemplateDeletedConflict
from telemetry.services.templates import TemplateExecutionFailed
from telemetry.validation import parse

from tests.fakes import in_memory_container
from tests.fakes.readings import InMemoryReadingQueue, InMemoryReadingStore

T0 = 1718884800000
ISO0 = "2024-06-20T12:00:00Z"


class World:
    """One organization with metrics, a typed thing, an untyped thing, and the template service."""

    def __init__(self) -> None:
        self.c = in_memory_container()
        self.who = self.c.keys.authenticate(self.c.keys.issue("acme").key)
        self.s = self.c.templates
        specs: list[dict[str, Any]] = [
            {"name": "voltage", "dataType": "Double", "defaultAggregation": "Avg"},
            {
                "name": "state",
                "dataType": "Int",
                "defaultAggregation": "Last",
                "enumValues": [
                    {"code": 0, "label": "IDLE"},
                    {"code": 1, "label": "RUNNING"},
                    {"code": 2, "label": "FAULT"},
                ],
            },
            {"name": "mode", "dataType": "String", "defaultAggregation": "Last"},
            {"name": "fw", "dataType": "String", "defaultAggregation": "Last"},
            {"name": "torque", "dataType": "Double", "defaultAggregation": "Avg"},
            {"name": "count", "dataType": "Int", "defaultAggregation": "Sum"},
        ]
        self.m = {s["name"]: self.c.metrics.create(self.who, parse(MetricCreate, s)).id for s in specs}
        on_type = [self.m[n] for n in ("voltage", "state", "mode", "fw", "count")]  # torque is not on the type
        self.type_id = self.c.thing_types.create(self.who, ThingTypeCreate(displayName="B", metricIds=on_type)).id
        self.site = self.c.places.create(self.who, PlaceKind.site, PlaceCreate(name="HQ")).id
        self.thing = self.thing_of(self.type_id)
        self.untyped = self.c.things.create(self.who, PlaceKind.site, self.site, ThingCreate(thingName="bare")).id

    def thing_of(self, type_id: str, name: str = "A") -> str:
        body = ThingCreate(thingName=name, thingTypeId=type_id)
        return self.c.things.create(self.who, PlaceKind.site, self.site, body).id

    @property
    def queue(self) -> InMemoryReadingQueue:
        return self.c.queue  # type: ignore[return-value]

    @property
    def store(self) -> InMemoryReadingStore:
        return self.c.readings  # type: ignore[return-value]

    def drain(self) -> None:
        for batch in self.queue.batches:
            assert self.store.write(batch.records) == []
        self.queue.batches.clear()

    def create(self, body: dict[str, Any], who: Principal | None = None) -> Template:
        return self.s.create(who or self.who, orjson.dumps(body))

    def spec_template(self, **spec_changes: Any) -> dict[str, Any]:
        """The spec document's example template, with this world's metric ids."""
        spec: dict[str, Any] = {
            "recordsPointer": "/readings",
            "timestamp": {"source": {"pointer": "/ts"}, "format": "iso8601"},
            "mappings": [
                {"metricId": self.m["voltage"], "source": {"pointer": "/v"}, "transform": {"scale": 0.1, "offset": 0}},
                {"metricId": self.m["state"], "source": {"pointer": "/state"}, "enumMap": {"RUNNING": 1, "IDLE": 0}},
                {"metricId": self.m["mode"], "source": {"pointer": "/mode"}, "default": "auto"},
                {"metricId": self.m["fw"], "source": {"pointer": "/header/fw", "scope": "document"}},
            ],
        }
        spec.update(spec_changes)
        return {"name": "Acme Telemetry v1", "target": "ThingData", "format": "JsonPointer", "spec": spec}

    def apply(self, template_id: str, payload: Any, *, preview: bool = False, thing: str | None = None) -> Any:
        raw = payload if isinstance(payload, bytes | str) else orjson.dumps(payload)
        return self.s.apply(self.who, thing or self.thing, template_id, raw, preview_only=preview)

    def mark_deleted(self, sk: str) -> None:
        found = self.c.repo.store.get(org_pk(self.who.org_id), sk)
        assert found is not None
        self.c.repo.store.write([Item(found.pk, found.sk, {**found.doc, "deleted": True})])


@pytest.fixture
def w() -> World:
    return World()


def reasons(exc: ValidationFailed) -> set[str]:
    return set(exc.extra.get("reasons", [exc.reason]))


# --------------------------------------------------------------------------- create / get / list


def test_create_returns_a_tmpl_id_at_revision_1_and_get_reads_it(w: World) -> None:
    created = w.create({**w.spec_template(), "description": "d", "tags": ["acme"]})
    assert created.id.startswith("tmpl_") and created.revision == 1 and created.status is TemplateStatus.active
    assert w.s.get(w.who, created.id) == created
    assert created.spec == w.spec_template()["spec"]  # stored as sent


def test_malformed_json_and_non_object_bodies_are_refused(w: World) -> None:
    with pytest.raises(MalformedRequest):
        w.s.create(w.who, b"{not json")
    with pytest.raises(ValidationFailed):
        w.s.create(w.who, b"[1]")


@pytest.mark.parametrize(
    ("field", "value"), [("target", "Nope"), ("format", "Yaml"), ("name", ""), ("tags", ["a", "a"])]
)
def test_unknown_target_or_format_and_bad_fields_name_the_field(w: World, field: str, value: Any) -> None:
    with pytest.raises(ValidationFailed) as info:
        w.create({**w.spec_template(), field: value})
    assert {e.path[0] for e in info.value.errors} == {field}


def test_a_pair_without_a_handler_is_unsupported_format(w: World) -> None:
    with pytest.raises(ValidationFailed) as info:
        w.create({**w.spec_template(), "target": "Transactions", "format": "Dbc"})
    assert info.value.reason == "unsupported-format"


def integrations_template(w: World) -> dict[str, Any]:
    rule = {
        "recordType": "StatusData",
        "match": {"pointer": "/diagnostic/id", "equals": "DiagnosticGoDeviceVoltageId"},
        "thing": {"pointer": "/device/id"},
        "timestamp": {"source": {"pointer": "/dateTime"}, "format": "iso8601"},
        "mappings": [{"metricId": w.m["voltage"], "source": {"pointer": "/data"}}],
    }
    return {"name": "geotab", "target": "Integrations", "format": "JsonPointer", "spec": {"rules": [rule]}}


def test_an_integrations_template_is_created_and_dry_runs_by_external_id(w: World) -> None:
    created = w.create(integrations_template(w))
    assert created.target == "Integrations" and created.revision == 1
    record = {
        "device": {"id": "b1"},
        "diagnostic": {"id": "DiagnosticGoDeviceVoltageId"},
        "dateTime": ISO0,
        "data": 13.8,
    }
    out = w.s.test(
        w.who, created.id, orjson.dumps({"recordType": "StatusData", "records": [record, {**record, "data": "x"}]})
    )
    assert out["readings"] == {"b1": [{"timestamp": T0, "time": ISO0, "metrics": {w.m["voltage"]: 13.8}}]}
    assert out["previewOnly"] is True and out["recordsParsed"] == 2 and out["readingsWritten"] == 1
    assert out["fieldsInvalid"] == [{"metricId": w.m["voltage"], "reason": "parse_failed", "count": 1}]
    assert w.queue.batches == []  # a dry run writes nothing


def test_an_integrations_dry_run_body_names_the_bad_field(w: World) -> None:
    created = w.create(integrations_template(w))
    with pytest.raises(ValidationFailed) as info:
        w.s.test(w.who, created.id, orjson.dumps({"records": [1], "extra": True}))
    assert {e.as_dict()["path"] for e in info.value.errors} == {"recordType", "records/0", "extra"}


def test_an_integrations_template_is_not_applied_to_a_thing(w: World) -> None:
    created = w.create(integrations_template(w))
    with pytest.raises(ValidationFailed) as info:
        w.apply(created.id, {"readings": []})
    assert info.value.reason == "wrong-target" and "targets Integrations" in info.value.errors[0].message
    assert w.queue.batches == []


def _with_mapping(w: World, index: int, **changes: Any) -> dict[str, Any]:
    body = w.spec_template()
    body["spec"]["mappings"][index] = {**body["spec"]["mappings"][index], **changes}
    return body["spec"]


#: every rule of "Validation and limits", as a spec change -> the reason it must be refused with
RULES: dict[str, Any] = {
    "invalid-pointer": lambda w: {**w.spec_template()["spec"], "recordsPointer": "readings"},
    "invalid-timestamp-format": lambda w: {
        **w.spec_template()["spec"],
        "timestamp": {"source": {"pointer": "/ts"}, "format": "rfc822"},
    },
    "unknown-metric": lambda w: _with_mapping(w, 0, metricId="mdef_doesnotexist"),
    "duplicate-metric": lambda w: _with_mapping(w, 1, metricId=w.m["voltage"], enumMap=None, transform=None),
    "transform-not-numeric": lambda w: _with_mapping(w, 2, transform={"scale": 2}),
    "enum-map-not-enum": lambda w: _with_mapping(w, 0, transform=None, enumMap={"A": 1}),
    "invalid-default": lambda w: _with_mapping(w, 0, default="not a number"),
    "too-many-mappings": lambda w: {
        **w.spec_template()["spec"],
        "mappings": [{"metricId": w.m["voltage"], "source": {"pointer": f"/v{i}"}} for i in range(101)],
    },
    "spec-too-large": lambda w: {**_with_mapping(w, 2, default="x" * (256 * 1024))},
    "transform-and-enum-map": lambda w: _with_mapping(w, 1, transform={"scale": 1}),
    "no-mappings": lambda w: {**w.spec_template()["spec"], "mappings": []},
}


@pytest.mark.parametrize("action", ["create", "update"])
@pytest.mark.parametrize("rule", sorted(RULES))
def test_every_validation_rule_refuses_create_and_update_with_its_own_reason(w: World, rule: str, action: str) -> None:
    spec = RULES[rule](w)
    with pytest.raises(ValidationFailed) as info:
        if action == "create":
            w.create({**w.spec_template(), "spec": spec})
        else:
            template = w.create(w.spec_template())
            w.s.update(w.who, template.id, orjson.dumps({"spec": spec}))
    assert rule in reasons(info.value), (info.value.reason, info.value.errors)
    assert all(e.path and e.path[0] == "spec" for e in info.value.errors)
    if action == "update":
        assert w.s.get(w.who, template.id).revision == 1  # nothing saved


def test_a_deleted_metric_and_another_organizations_metric_are_refused(w: World) -> None:
    w.mark_deleted(f"METRIC#{w.m['count']}")
    with pytest.raises(ValidationFailed) as info:
        w.create({**w.spec_template(), "spec": _with_mapping(w, 0, metricId=w.m["count"], transform=None)})
    assert reasons(info.value) == {"metric-deleted"}
    other = w.c.keys.authenticate(w.c.keys.issue("globex").key)
    with pytest.raises(ValidationFailed) as info:
        w.create(w.spec_template(), who=other)
    assert reasons(info.value) == {"unknown-metric"}


def test_every_error_of_a_template_is_reported_at_once(w: World) -> None:
    spec = _with_mapping(w, 0, metricId="mdef_nope")
    spec["mappings"][2]["transform"] = {"scale": 2}
    with pytest.raises(ValidationFailed) as info:
        w.create({**w.spec_template(), "spec": spec})
    assert info.value.reason == "invalid-template"
    assert reasons(info.value) == {"unknown-metric", "transform-not-numeric"}


def test_list_filters_by_target_format_and_status_and_pages(w: World, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(templates_repo, "_STORE_PAGE", 2)  # so that pages cross store pages
    js = {
        "name": "js",
        "target": "ThingData",
        "format": "JavaScriptHandler",
        "spec": {"source": "function handler(p) { return []; }", "metricIds": [w.m["voltage"]]},
    }
    made = [w.create(w.spec_template()).id for _ in range(4)] + [w.create(js).id for _ in range(3)]
    gone = w.create(w.spec_template()).id
    w.s.delete(w.who, gone)

    def collect(**filters: Any) -> list[str]:
        ids: list[str] = []
        token = None
        while True:
            page = w.s.list_templates(w.who, limit=2, cursor=token, **filters)
            assert len(page.items) <= 2
            ids += [t.id for t in page.items]
            token = page.continuationToken
            if not token:
                return ids

    everything = collect()
    assert sorted(everything) == sorted(made) and len(set(everything)) == len(everything)
    from telemetry.models.templates import TemplateFormat, TemplateTarget

    assert sorted(collect(fmt=TemplateFormat.JavaScriptHandler)) == sorted(made[4:])
    assert collect(target=TemplateTarget.Transactions) == []
    assert collect(status=TemplateStatus.deleted) == [gone]
    with pytest.raises(ValidationFailed):
        w.s.list_templates(w.who, cursor="garbage!")


# --------------------------------------------------------------------------- update / delete


def test_update_bumps_the_revision_and_keeps_what_is_not_sent(w: World) -> None:
    template = w.create({**w.spec_template(), "description": "first", "tags": ["a"]})
    renamed = w.s.update(w.who, template.id, b'{"name": "v2"}')
    assert (renamed.revision, renamed.name, renamed.description, renamed.tags) == (2, "v2", "first", ["a"])
    cleared = w.s.update(w.who, template.id, b'{"description": null, "tags": []}')
    assert (cleared.revision, cleared.description, cleared.tags) == (3, None, [])
    assert w.s.get(w.who, template.id) == cleared


@pytest.mark.parametrize("field", ["target", "format"])
def test_target_and_format_are_immutable_and_named(w: World, field: str) -> None:
    template = w.create(w.spec_template())
    with pytest.raises(ValidationFailed) as info:
        w.s.update(w.who, template.id, orjson.dumps({field: "Transactions", "name": "x"}))
    assert info.value.reason == "immutable-field"
    assert [e.path for e in info.value.errors] == [(field,)]


def test_an_empty_or_null_update_is_refused(w: World) -> None:
    template = w.create(w.spec_template())
    with pytest.raises(ValidationFailed) as info:
        w.s.update(w.who, template.id, b"{}")
    assert info.value.reason == "empty-update"
    with pytest.raises(ValidationFailed) as info:
        w.s.update(w.who, template.id, b'{"spec": null}')
    assert info.value.errors[0].path == ("spec",)


def test_a_concurrent_update_does_not_lose_a_revision(w: World) -> None:
    """Deterministic race: another writer commits between our read and our write."""
    template = w.create(w.spec_template())

    class Racing(TemplatesRepository):
        raced = False

        def replace(self, org_id: str, t: Template, expected_ver: int) -> None:
            if not Racing.raced:
                Racing.raced = True
                w.s.update(w.who, template.id, b'{"name": "theirs"}')  # commits revision 2
            super().replace(org_id, t, expected_ver)

    w.s.templates = Racing(w.c.repo.store)
    mine = w.s.update(w.who, template.id, b'{"description": "mine"}')
    assert mine.revision == 3 and mine.name == "theirs" and mine.description == "mine"


class ReadThenWait(TemplatesRepository):
    """The real repository; each thread's FIRST read waits until every thread has read, so all of
    them start from the same revision and their writes really collide (issue 8.12)."""

    def __init__(self, store: Any, barrier: threading.Barrier) -> None:
        super().__init__(store)
        self.barrier = barrier
        self.waited = threading.local()

    def get(self, org_id: str, template_id: str) -> templates_repo.StoredTemplate | None:
        found = super().get(org_id, template_id)
        if not getattr(self.waited, "done", False):
            self.waited.done = True
            self.barrier.wait(timeout=10)
        return found


#: at most UPDATE_ATTEMPTS contenders: each round one wins, so every PUT lands within its attempts
PARALLEL_PUTS = 4


def test_parallel_updates_each_get_their_own_revision(w: World) -> None:
    """Fails when ``replace`` does not check the version: all four read revision 1, all write 2."""
    template = w.create(w.spec_template())
    plain, w.s.templates = w.s.templates, ReadThenWait(w.c.repo.store, threading.Barrier(PARALLEL_PUTS))
    results: list[int] = []

    def put(i: int) -> None:
        results.append(w.s.update(w.who, template.id, orjson.dumps({"name": f"n{i}"})).revision)

    threads = [threading.Thread(target=put, args=(i,)) for i in range(PARALLEL_PUTS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    w.s.templates = plain
    assert sorted(results) == list(range(2, 2 + PARALLEL_PUTS))
    stored = w.s.get(w.who, template.id)
    assert stored.revision == 1 + PARALLEL_PUTS
    assert stored.name in {f"n{i}" for i in range(PARALLEL_PUTS)}


def test_delete_is_soft_idempotent_and_blocks_use(w: World) -> None:
    template = w.create(w.spec_template())
    deleted = w.s.delete(w.who, template.id)
    assert deleted.status is TemplateStatus.deleted and deleted.revision == 1
    assert w.s.get(w.who, template.id).status is TemplateStatus.deleted
    assert w.s.delete(w.who, template.id) == deleted
    assert w.s.list_templates(w.who).items == []
    with pytest.raises(TemplateDeleted):
        w.apply(template.id, {"readings": []})
    with pytest.raises(TemplateDeleted):
        w.s.test(w.who, template.id, b"{}")
    with pytest.raises(TemplateDeletedConflict):
        w.s.update(w.who, template.id, b'{"name": "again"}')


def test_scopes_and_tenancy(w: World) -> None:
    template = w.create(w.spec_template())
    reader = w.c.keys.authenticate(w.c.keys.issue("acme", scopes=["templates:read"]).key)
    nobody = w.c.keys.authenticate(w.c.keys.issue("acme", scopes=["metrics:read"]).key)
    other = w.c.keys.authenticate(w.c.keys.issue("globex").key)
    assert w.s.get(reader, template.id).id == template.id
    for call in (
        lambda p: w.s.create(p, orjson.dumps(w.spec_template())),
        lambda p: w.s.update(p, template.id, b'{"name": "x"}'),
        lambda p: w.s.delete(p, template.id),
        lambda p: w.s.apply(p, w.thing, template.id, b"{}", preview_only=True),
        lambda p: w.s.apply_transactions(p, template.id, b"{}", preview_only=True),
        lambda p: w.s.test(p, template.id, b"{}"),  # a dry run runs the template's code: a write scope
    ):
        with pytest.raises(Forbidden):
            call(reader)
    for read in (
        lambda p: w.s.get(p, template.id),
        lambda p: w.s.list_templates(p),
        lambda p: w.s.test(p, template.id, b"{}"),
        lambda p: w.s.list_transactions(p, "charge"),
    ):
        with pytest.raises(Forbidden):
            read(nobody)
    for call in (
        lambda p: w.s.get(p, template.id),
        lambda p: w.s.update(p, template.id, b'{"name": "x"}'),
        lambda p: w.s.delete(p, template.id),
        lambda p: w.s.test(p, template.id, b"{}"),
        lambda p: w.s.apply(p, w.thing, template.id, b"{}", preview_only=True),
    ):
        with pytest.raises(NotFound):
            call(other)
    assert w.s.list_templates(other).items == []


# --------------------------------------------------------------------------- apply: ThingData


def test_apply_writes_one_batch_of_thing_rows_keyed_by_metric_ids(w: World) -> None:
    template = w.create(w.spec_template())
    payload = {
        "header": {"fw": "1.2.3"},
        "readings": [
            {"ts": ISO0, "v": 523, "state": "RUNNING", "mode": "eco"},
            {"ts": "2024-06-20T12:00:01Z", "v": 500, "state": "IDLE"},
        ],
    }
    report = w.apply(template.id, payload)
    assert report == {
        "previewOnly": False,
        "templateId": template.id,
        "templateRevision": 1,
        "recordsParsed": 2,
        "readingsWritten": 2,
        "metricValuesWritten": 8,
        "recordsSkipped": [],
        "metricsSkippedNotOnTtd": [],
        "fieldsSkippedMissing": [],
        "fieldsInvalid": [],
    }
    (batch,) = w.queue.batches
    (group,) = batch.groups
    assert (group.kind, group.series_id, batch.org_id) == (SeriesKind.THING, w.thing, w.who.org_id)
    assert group.types == {
        w.m["voltage"]: DataType.Double,
        w.m["state"]: DataType.Int,
        w.m["mode"]: DataType.String,
        w.m["fw"]: DataType.String,
    }
    w.drain()
    latest = w.c.queries.latest(w.who, w.thing)
    assert latest["metrics"] == {"voltage": 50.0, "state": 0, "mode": "auto", "fw": "1.2.3"}
    history = w.c.queries.history(
        w.who, w.thing, start=str(T0), end=str(T0 + 2000), metrics=None, limit=10, cursor=None
    )
    assert history["frames"][0]["metrics"] == {"voltage": 52.3, "state": 1, "mode": "eco", "fw": "1.2.3"}


def test_apply_echoes_the_revision_that_processed_the_payload(w: World) -> None:
    template = w.create(w.spec_template())
    w.s.update(w.who, template.id, b'{"name": "v2"}')
    assert w.apply(template.id, {"readings": []}, preview=True)["templateRevision"] == 2


def test_preview_only_writes_nothing_and_shows_the_readings(w: World) -> None:
    template = w.create(w.spec_template())
    report = w.apply(template.id, {"readings": [{"ts": ISO0, "v": 523}]}, preview=True)
    assert report["previewOnly"] is True and report["readingsWritten"] == 1
    assert report["readings"] == [
        {"timestamp": T0, "time": ISO0, "metrics": {w.m["voltage"]: 52.3, w.m["mode"]: "auto"}}
    ]
    assert w.queue.batches == []


# "Missing and invalid values", one test per row (plus the sentence on defaults and the no-values rule)


def test_absent_or_null_source_writes_the_default_else_skips_the_metric(w: World) -> None:
    template = w.create(w.spec_template())
    report = w.apply(
        template.id, {"readings": [{"ts": ISO0, "v": 1, "mode": None}, {"ts": "2024-06-20T12:00:01Z", "v": 2}]}
    )
    assert {"metricId": w.m["state"], "count": 2} in report["fieldsSkippedMissing"]
    assert {"metricId": w.m["fw"], "count": 2} in report["fieldsSkippedMissing"]
    assert not any(f["metricId"] == w.m["mode"] for f in report["fieldsSkippedMissing"])
    w.drain()
    assert w.c.queries.latest(w.who, w.thing)["metrics"] == {"voltage": 0.2, "mode": "auto"}


def test_present_but_unparseable_is_invalid_and_a_default_does_not_rescue_it(w: World) -> None:
    spec = _with_mapping(w, 0, default=7.5)
    template = w.create({**w.spec_template(), "spec": spec})
    report = w.apply(template.id, {"readings": [{"ts": ISO0, "v": "n/a", "mode": "eco"}]})
    assert report["fieldsInvalid"] == [{"metricId": w.m["voltage"], "reason": "parse_failed", "count": 1}]
    w.drain()
    assert "voltage" not in w.c.queries.latest(w.who, w.thing)["metrics"]


def test_object_or_array_source_is_invalid(w: World) -> None:
    template = w.create(w.spec_template())
    report = w.apply(template.id, {"readings": [{"ts": ISO0, "v": {"x": 1}, "mode": ["a"]}]})
    got = {(f["metricId"], f["reason"], f["count"]) for f in report["fieldsInvalid"]}
    assert got == {(w.m["voltage"], "not_scalar", 1), (w.m["mode"], "not_scalar", 1)}


def test_enum_source_without_an_enum_map_entry_is_invalid(w: World) -> None:
    template = w.create(w.spec_template())
    report = w.apply(template.id, {"readings": [{"ts": ISO0, "state": "FAULT"}]})
    assert report["fieldsInvalid"] == [{"metricId": w.m["state"], "reason": "enum_unmapped", "count": 1}]


def test_a_metric_not_on_the_things_type_is_skipped_and_reported(w: World) -> None:
    spec = w.spec_template()["spec"]
    spec["mappings"].append({"metricId": w.m["torque"], "source": {"pointer": "/tq"}})
    template = w.create({**w.spec_template(), "spec": spec})
    report = w.apply(template.id, {"readings": [{"ts": ISO0, "v": 1, "tq": 9}]})
    assert report["metricsSkippedNotOnTtd"] == [w.m["torque"]]
    (batch,) = w.queue.batches
    assert w.m["torque"] not in batch.groups[0].types


def test_records_without_timestamp_or_values_are_skipped_and_reported(w: World) -> None:
    spec = _with_mapping(w, 2, default=None)
    template = w.create({**w.spec_template(), "spec": spec})
    payload = {"readings": [{"ts": "n/a", "v": 1}, {"v": 1}, {"ts": ISO0}, {"ts": ISO0, "v": 3}]}
    report = w.apply(template.id, payload)
    assert report["recordsSkipped"] == [
        {"index": 0, "reason": "invalid_timestamp", "value": "n/a"},
        {"index": 1, "reason": "missing_timestamp"},
        {"index": 2, "reason": "no_metric_values"},
    ]
    assert (report["recordsParsed"], report["readingsWritten"]) == (4, 1)


def test_whole_document_is_one_reading_without_records_pointer(w: World) -> None:
    body = w.spec_template()
    del body["spec"]["recordsPointer"]
    template = w.create(body)
    report = w.apply(template.id, {"ts": ISO0, "v": 10, "header": {"fw": "9"}})
    assert (report["recordsParsed"], report["readingsWritten"], report["metricValuesWritten"]) == (1, 1, 3)


# "Failure behavior": structural problems fail and write nothing


def test_structural_failures_write_nothing(w: World) -> None:
    template = w.create(w.spec_template())
    tx = w.create(TX_TEMPLATE)
    bare_type = w.c.thing_types.create(w.who, ThingTypeCreate(displayName="Gone", metricIds=[w.m["voltage"]])).id
    orphan = w.thing_of(bare_type, "orphan")
    w.mark_deleted(f"TTYPE#{bare_type}")
    cases: list[tuple[type[Exception], Any, str | None]] = [
        (NotFound, lambda: w.apply("tmpl_doesnotexist", {"readings": []}), None),
        (NotFound, lambda: w.apply(template.id, {"readings": []}, thing="thing_nope"), None),
        (MalformedRequest, lambda: w.apply(template.id, b'{"readings": ['), None),
        (ValidationFailed, lambda: w.apply(template.id, {"readings": {"ts": ISO0}}), "records-not-array"),
        (ValidationFailed, lambda: w.apply(template.id, {"other": 1}), "records-not-array"),
        (FailedDependency, lambda: w.apply(template.id, {"readings": []}, thing=w.untyped), None),
        (FailedDependency, lambda: w.apply(template.id, {"readings": []}, thing=orphan), None),
        (ValidationFailed, lambda: w.apply(tx.id, {"tx": []}), "wrong-target"),
        (PayloadTooLarge, lambda: w.apply(template.id, {"readings": [{"ts": ISO0, "v": 1}] * 1001}), None),
        (PayloadTooLarge, lambda: w.apply(template.id, b'{"readings": [], "pad": "' + b"x" * (1 << 20) + b'"}'), None),
    ]
    for error, call, reason in cases:
        with pytest.raises(error) as info:
            call()
        if reason:
            assert info.value.reason == reason  # type: ignore[attr-defined]
    assert w.queue.batches == []


def test_exactly_1000_records_are_accepted(w: World) -> None:
    template = w.create(w.spec_template())
    records = [{"ts": T0 + i, "v": i} for i in range(1000)]
    body = w.spec_template(timestamp={"source": {"pointer": "/ts"}, "format": "epoch_ms"})
    template = w.create(body)
    assert w.apply(template.id, {"readings": records})["readingsWritten"] == 1000


def test_a_failing_script_writes_nothing(w: World) -> None:
    template = w.create(
        {
            "name": "js",
            "target": "ThingData",
            "format": "JavaScriptHandler",
            "spec": {"source": "function handler(p) { throw new Error('boom'); }", "metricIds": [w.m["voltage"]]},
        }
    )
    with pytest.raises(TemplateExecutionFailed) as info:
        w.apply(template.id, {})
    assert info.value.reason == "script-error"
    assert w.queue.batches == []


def test_a_queue_outage_is_unavailable(w: World) -> None:
    template = w.create(w.spec_template())
    w.queue.fail = True
    with pytest.raises(Unavailable):
        w.apply(template.id, {"readings": [{"ts": ISO0, "v": 1}]})


def test_javascript_and_dbc_templates_apply(w: World) -> None:
    js = w.create(
        {
            "name": "js",
            "target": "ThingData",
            "format": "JavaScriptHandler",
            "spec": {
                "source": f"function handler(p) {{ return p.rows.map(r => ({{timestamp: r.at, metrics: {{"
                f"{w.m['voltage']}: r.mv / 1000, {w.m['count']}: r.n}}}})); }}",
                "metricIds": [w.m["voltage"], w.m["count"]],
            },
        }
    )
    assert w.apply(js.id, {"rows": [{"at": T0, "mv": 52300, "n": 4}]})["metricValuesWritten"] == 2
    dbc = w.create(
        {
            "name": "dbc",
            "target": "ThingData",
            "format": "Dbc",
            "spec": {
                "dbc": DBC,
                "mappings": [
                    {"signal": "Battery.Voltage", "metricId": w.m["voltage"]},
                    {"signal": "Battery.Count", "metricId": w.m["count"]},
                ],
            },
        }
    )
    report = w.apply(dbc.id, {"frames": [{"id": 256, "data": "6e14070000000000", "timestamp": T0 + 1000}]})
    assert report["readingsWritten"] == 1 and report["metricValuesWritten"] == 2
    w.drain()
    assert w.c.queries.latest(w.who, w.thing)["metrics"] == {"voltage": pytest.approx(52.3), "count": 7}


DBC = """VERSION ""

BS_:

BU_: ECU

BO_ 256 Battery: 8 ECU
 SG_ Voltage : 0|16@1+ (0.01,0) [0|655.35] "V" ECU
 SG_ Count : 16|8@1+ (1,0) [0|255] "" ECU
"""


# --------------------------------------------------------------------------- dry run


def test_test_runs_without_a_thing_and_writes_nothing(w: World) -> None:
    spec = w.spec_template()["spec"]
    spec["mappings"].append({"metricId": w.m["torque"], "source": {"pointer": "/tq"}})
    template = w.create({**w.spec_template(), "spec": spec})
    out = w.s.test(w.who, template.id, orjson.dumps({"readings": [{"ts": ISO0, "v": 5, "tq": 3}]}))
    assert out["previewOnly"] is True and out["metricsSkippedNotOnTtd"] == []  # no Thing: every metric counts
    assert out["readings"][0]["metrics"] == {w.m["voltage"]: 0.5, w.m["mode"]: "auto", w.m["torque"]: 3.0}
    assert w.queue.batches == []


# --------------------------------------------------------------------------- Transactions

TX_TEMPLATE: dict[str, Any] = {
    "name": "charges",
    "target": "Transactions",
    "format": "JsonPointer",
    "spec": {
        "recordsPointer": "/tx",
        "timestamp": {"source": {"pointer": "/at"}, "format": "iso8601"},
        "id": {"pointer": "/id"},
        "type": {"pointer": "/kind", "default": "charge"},
        "amount": {"pointer": "/amt"},
        "currency": {"pointer": "/cur", "default": "USD"},
        "quantity": {"pointer": "/kwh"},
        "attributes": {"site": {"pointer": "/site", "scope": "document"}},
    },
}


def test_transactions_go_through_the_queue_and_read_back(w: World) -> None:
    template = w.create(TX_TEMPLATE)
    payload = {
        "site": "north",
        "tx": [
            {"at": ISO0, "id": "t1", "amt": 12.5, "kwh": 30},
            {"at": ISO0, "id": "t2", "amt": "3", "cur": "eur"},
            {"at": "2024-06-20T12:00:05Z", "id": "r1", "kind": "refund", "amt": -2},
            {"at": ISO0, "id": "bad", "amt": "lots"},
        ],
    }
    report = w.s.apply_transactions(w.who, template.id, orjson.dumps(payload), preview_only=False)
    assert report["transactionsWritten"] == 3 and report["readingsWritten"] == 0
    assert report["recordsSkipped"] == [{"index": 3, "reason": "invalid_amount", "value": "lots"}]
    (batch,) = w.queue.batches
    assert {(g.kind, g.series_id) for g in batch.groups} == {
        (SeriesKind.TRANSACTION, "charge"),
        (SeriesKind.TRANSACTION, "refund"),
    }
    w.drain()
    page = w.s.list_transactions(w.who, "charge", start=ISO0, end="2024-06-21T00:00:00Z")
    assert page["transactions"] == [
        {
            "id": "t1",
            "type": "charge",
            "timestamp": T0,
            "time": ISO0,
            "amount": 12.5,
            "currency": "USD",
            "quantity": 30.0,
            "attributes": {"site": "north"},
        },
        {
            "id": "t2",
            "type": "charge",
            "timestamp": T0,
            "time": ISO0,
            "amount": 3.0,
            "currency": "EUR",
            "attributes": {"site": "north"},
        },
    ]
    refunds = w.s.list_transactions(w.who, "refund", start=str(T0))["transactions"]
    assert [t["id"] for t in refunds] == ["r1"]


def test_a_later_request_at_the_same_instant_keeps_the_earlier_transactions(w: World) -> None:
    template = w.create(TX_TEMPLATE)
    for ids in (["a", "b"], ["c", "a"]):
        tx = [{"at": ISO0, "id": i, "amt": 1 if i != "a" or ids[0] == "a" else 9} for i in ids]
        w.s.apply_transactions(w.who, template.id, orjson.dumps({"tx": tx}), preview_only=False)
        w.drain()
    got = {t["id"]: t["amount"] for t in w.s.list_transactions(w.who, "charge", start=str(T0))["transactions"]}
    assert got == {"a": 9.0, "b": 1.0, "c": 1.0}  # the same id is replaced, others are kept


def test_many_instants_merge_with_one_range_read(w: World) -> None:
    template = w.create(TX_TEMPLATE)
    first = [{"at": T0 + i * 1000, "id": f"x{i}", "amt": 1} for i in range(40)]
    spec = {**TX_TEMPLATE["spec"], "timestamp": {"source": {"pointer": "/at"}, "format": "epoch_ms"}}
    template = w.create({**TX_TEMPLATE, "spec": spec})
    w.s.apply_transactions(w.who, template.id, orjson.dumps({"tx": first}), preview_only=False)
    w.drain()
    second = [{"at": T0 + i * 1000, "id": f"y{i}", "amt": 2} for i in range(40)]
    w.s.apply_transactions(w.who, template.id, orjson.dumps({"tx": second}), preview_only=False)
    w.drain()
    page = w.s.list_transactions(w.who, "charge", start=str(T0), limit=1000)
    assert len(page["transactions"]) == 80


def test_transactions_preview_and_target_checks(w: World) -> None:
    template = w.create(TX_TEMPLATE)
    out = w.s.apply_transactions(
        w.who, template.id, orjson.dumps({"tx": [{"at": ISO0, "id": "p", "kwh": 1}]}), preview_only=True
    )
    assert out["previewOnly"] is True and out["transactions"][0]["id"] == "p" and w.queue.batches == []
    thing_template = w.create(w.spec_template())
    with pytest.raises(ValidationFailed) as info:
        w.s.apply_transactions(w.who, thing_template.id, b"{}", preview_only=False)
    assert info.value.reason == "wrong-target"
    with pytest.raises(ValidationFailed):
        w.s.list_transactions(w.who, "  ")
    with pytest.raises(ValidationFailed):
        w.s.list_transactions(w.who, "charge", start="2024-06-21T00:00:00Z", end=ISO0)
