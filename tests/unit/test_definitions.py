"""Definitions use cases on the in-memory item store: the real services, no mocks."""

from __future__ import annotations

import pytest
from telemetry.bootstrap import Container
from telemetry.errors import Conflict, Forbidden, NotFound, Unauthenticated, ValidationFailed
from telemetry.models.auth import Principal, ResourceFilters
from telemetry.models.metrics import MetricCreate
from telemetry.models.places import PlaceCreate, PlaceKind
from telemetry.models.thing_types import ThingTypeCreate, ThingTypeVersionCreate
from telemetry.models.things import ThingCreate
from telemetry.validation import parse

from tests.fakes import in_memory_container


@pytest.fixture
def c() -> Container:
    return in_memory_container()


@pytest.fixture
def acme(c: Container) -> Principal:
    return c.keys.authenticate(c.keys.issue("acme").key)


def metric(c: Container, who: Principal, name: str = "soc", **kw: object) -> str:
    body = {"name": name, "dataType": "Double", "defaultAggregation": "Last", **kw}
    return c.metrics.create(who, parse(MetricCreate, body)).id


BATTERY_PROPS = [
    {
        "name": "capacity",
        "description": "Battery capacity",
        "unit": "kWh",
        "valueType": "double",
        "constraints": [{"operator": ">", "value": "0"}, {"operator": "<=", "value": "100"}],
    }
]


def battery(c: Container, who: Principal) -> str:
    ids = [metric(c, who, "soc"), metric(c, who, "soh")]
    body = ThingTypeCreate(displayName="Battery", metricIds=ids, propertyDefinitions=BATTERY_PROPS)  # type: ignore[arg-type]
    return c.thing_types.create(who, body).id


# ------------------------------------------------------------------ keys
def test_issued_key_authenticates_and_is_stored_only_as_hash(c: Container) -> None:
    issued = c.keys.issue("acme", scopes=["metrics:read"])
    assert issued.key.startswith("avy_")
    who = c.keys.authenticate(issued.key)
    assert who.org_id == issued.org_id and who.scopes == {"metrics:read"}
    stored = str(c.repo.store._items)  # type: ignore[attr-defined]
    assert issued.key not in stored


@pytest.mark.parametrize("key", [None, "", "avy_nope", "not-a-key"])
def test_unknown_or_missing_key_is_unauthenticated(c: Container, key: str | None) -> None:
    with pytest.raises(Unauthenticated):
        c.keys.authenticate(key)


def test_same_org_name_reuses_the_organization(c: Container) -> None:
    assert c.keys.issue("Acme").org_id == c.keys.issue("acme").org_id


def test_unknown_scope_is_refused(c: Container) -> None:
    with pytest.raises(ValidationFailed, match="unknown scope"):
        c.keys.issue("acme", scopes=["metrics:fly"])


# ------------------------------------------------------------------ metrics
def test_metric_names_are_unique_case_insensitively(c: Container, acme: Principal) -> None:
    metric(c, acme, "soc")
    with pytest.raises(Conflict):
        metric(c, acme, "SoC")


def test_metric_name_may_repeat_across_organizations(c: Container, acme: Principal) -> None:
    other = c.keys.authenticate(c.keys.issue("globex").key)
    metric(c, acme, "soc")
    metric(c, other, "soc")


def test_another_organizations_metric_is_not_found(c: Container, acme: Principal) -> None:
    other = c.keys.authenticate(c.keys.issue("globex").key)
    mid = metric(c, acme)
    with pytest.raises(NotFound):
        c.metrics.get(other, mid)


def test_enum_metric_needs_int_and_unique_codes() -> None:
    base = {"name": "state", "defaultAggregation": "Last"}
    parse(MetricCreate, {**base, "dataType": "Int", "enumValues": [{"code": 0, "label": "IDLE"}]})
    with pytest.raises(ValidationFailed, match="only allowed on Int"):
        parse(MetricCreate, {**base, "dataType": "String", "enumValues": [{"code": 0, "label": "IDLE"}]})
    with pytest.raises(ValidationFailed, match="unique"):
        parse(
            MetricCreate,
            {**base, "dataType": "Int", "enumValues": [{"code": 0, "label": "a"}, {"code": 0, "label": "b"}]},
        )


def test_numeric_aggregation_on_string_metric_is_refused() -> None:
    with pytest.raises(ValidationFailed, match="defaultAggregation"):
        parse(MetricCreate, {"name": "fw", "dataType": "String", "defaultAggregation": "Avg"})


def test_metric_list_paginates(c: Container, acme: Principal) -> None:
    for i in range(5):
        metric(c, acme, f"m{i}")
    first = c.metrics.list(acme, 2, None)
    second = c.metrics.list(acme, 2, first.continuationToken)
    third = c.metrics.list(acme, 2, second.continuationToken)
    names = [m.name for m in first.items + second.items + third.items]
    assert sorted(names) == [f"m{i}" for i in range(5)] and third.continuationToken is None


def test_forged_continuation_token_is_a_validation_error(c: Container, acme: Principal) -> None:
    with pytest.raises(ValidationFailed, match="continuationToken"):
        c.metrics.list(acme, 2, "!!!not-base64!!!")


# ------------------------------------------------------------------ thing types
def test_thing_type_has_stable_id_and_first_version(c: Container, acme: Principal) -> None:
    created = c.thing_types.create(acme, ThingTypeCreate(displayName="Battery", metricIds=[metric(c, acme)]))
    assert created.id.startswith("tdefi_") and created.versionId.startswith("tdef_") and created.version == 1


def test_thing_type_with_unknown_metric_names_the_index(c: Container, acme: Principal) -> None:
    good = metric(c, acme)
    with pytest.raises(ValidationFailed) as err:
        c.thing_types.create(acme, ThingTypeCreate(displayName="X", metricIds=[good, "mdef_missing"]))
    assert err.value.errors[0].path == ("metricIds", 1)


def test_new_version_does_not_move_existing_things(c: Container, acme: Principal) -> None:
    type_id = battery(c, acme)
    site = c.places.create(acme, PlaceKind.site, PlaceCreate(name="HQ"))
    thing = c.things.create(acme, PlaceKind.site, site.id, ThingCreate(thingName="A1", thingTypeId=type_id))
    v2 = c.thing_types.add_version(acme, type_id, ThingTypeVersionCreate(metricIds=[metric(c, acme, "volts")]))
    assert v2.version == 2
    assert c.things.get(acme, thing.id).thingTypeVersionId == thing.thingTypeVersionId != v2.versionId
    later = c.things.create(acme, PlaceKind.site, site.id, ThingCreate(thingName="A2", thingTypeId=type_id))
    assert later.thingTypeVersionId == v2.versionId
    assert [v.version for v in c.thing_types.get(acme, type_id).versions] == [1, 2]


def test_constraint_value_must_parse_as_the_value_type() -> None:
    with pytest.raises(ValidationFailed, match="constraints"):
        parse(
            ThingTypeCreate,
            {
                "displayName": "X",
                "metricIds": ["mdef_a"],
                "propertyDefinitions": [
                    {"name": "c", "valueType": "double", "constraints": [{"operator": ">", "value": "abc"}]}
                ],
            },
        )


# ------------------------------------------------------------------ places and things
def test_property_rules_name_the_property(c: Container, acme: Principal) -> None:
    type_id = battery(c, acme)
    site = c.places.create(acme, PlaceKind.site, PlaceCreate(name="HQ"))
    ok = c.things.create(
        acme, PlaceKind.site, site.id, ThingCreate(thingName="A1", thingTypeId=type_id, properties={"capacity": "75"})
    )
    assert ok.properties == {"capacity": 75.0}
    for props, path, msg in [
        ({"capacity": "0"}, ("properties", "capacity"), "> 0"),
        ({"capacity": "100.5"}, ("properties", "capacity"), "<= 100"),
        ({"capacity": "big"}, ("properties", "capacity"), "expected a double"),
        ({"colour": "red"}, ("properties", "colour"), "not defined"),
    ]:
        with pytest.raises(ValidationFailed) as err:
            c.things.create(
                acme, PlaceKind.site, site.id, ThingCreate(thingName="B", thingTypeId=type_id, properties=props)
            )
        assert err.value.errors[0].path == path and msg in err.value.errors[0].message


def test_thing_in_a_fleet_route_with_a_site_id_is_not_found(c: Container, acme: Principal) -> None:
    site = c.places.create(acme, PlaceKind.site, PlaceCreate(name="HQ"))
    with pytest.raises(NotFound):
        c.things.create(acme, PlaceKind.fleet, site.id, ThingCreate(thingName="A1"))


def test_bulk_answers_per_item(c: Container, acme: Principal) -> None:
    type_id = battery(c, acme)
    fleet = c.places.create(acme, PlaceKind.fleet, PlaceCreate(name="Vans"))
    result = c.things.create_bulk(
        acme,
        PlaceKind.fleet,
        fleet.id,
        [
            {"thingName": "ok", "thingTypeId": type_id, "properties": {"capacity": 50}},
            {"thingName": "bad", "thingTypeId": type_id, "properties": {"capacity": 500}},
            {"model": "no name"},
        ],
    )
    assert (result.created, result.failed) == (1, 2)
    assert [r.status for r in result.results] == [201, 400, 400]
    assert result.results[2].errors == [{"path": "thingName", "message": "is required"}]
    assert len(c.things.list_in_place(acme, PlaceKind.fleet, fleet.id, 50, None).items) == 1


def test_resource_filter_hides_other_places_and_their_things(c: Container, acme: Principal) -> None:
    a = c.places.create(acme, PlaceKind.site, PlaceCreate(name="A"))
    b = c.places.create(acme, PlaceKind.site, PlaceCreate(name="B"))
    in_b = c.things.create(acme, PlaceKind.site, b.id, ThingCreate(thingName="t"))
    limited = c.keys.authenticate(c.keys.issue("acme", filters=ResourceFilters(places=[a.id])).key)
    assert [p.id for p in c.places.list(limited, PlaceKind.site, 50, None).items] == [a.id]
    for call in (
        lambda: c.places.get(limited, PlaceKind.site, b.id),
        lambda: c.things.get(limited, in_b.id),
        lambda: c.things.create(limited, PlaceKind.site, b.id, ThingCreate(thingName="x")),
    ):
        with pytest.raises(NotFound):
            call()
    with pytest.raises(Forbidden):
        c.places.create(limited, PlaceKind.site, PlaceCreate(name="C"))


def test_scope_is_required(c: Container) -> None:
    reader = c.keys.authenticate(c.keys.issue("acme", scopes=["metrics:read"]).key)
    with pytest.raises(Forbidden, match="metrics:write"):
        metric(c, reader)
