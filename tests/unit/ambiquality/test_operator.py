"""Operator side: buildings, rooms, sensors, PATCH, key rotation; scopes and tenancy."""

from __future__ import annotations

import uuid

import pytest
from telemetry.errors import Forbidden, NotFound, ValidationFailed
from telemetry.models.ambiquality import (
    MIN_FREQUENCY_SECONDS,
    BuildingCreate,
    RoomCreate,
    SensorCreate,
    SensorStatus,
    SensorUpdate,
)
from telemetry.models.auth import ResourceFilters
from telemetry.models.places import PlaceKind
from telemetry.services.ambiquality.errors import InvalidKey
from telemetry.services.auth import hash_secret
from telemetry.validation import parse

from .conftest import DOC_READINGS, World, batch


def test_building_is_created_listed_and_backed_by_a_platform_site(world: World) -> None:
    admin, me = world.s.admin, world.principal
    building = admin.create_building(me, BuildingCreate(name="HQ", address="1 Main St"))
    assert uuid.UUID(building.id)
    assert admin.get_building(me, building.id) == building
    assert [b.id for b in admin.list_buildings(me, 50, None).items] == [building.id]
    site = world.c.places.get(me, PlaceKind.site, building.placeId)
    assert site.name == "HQ" and site.tags == {"ambiquality.buildingId": building.id}


def test_buildings_page(world: World) -> None:
    for n in range(3):
        world.s.admin.create_building(world.principal, BuildingCreate(name=f"B{n}"))
    first = world.s.admin.list_buildings(world.principal, 2, None)
    assert len(first.items) == 2 and first.continuationToken
    rest = world.s.admin.list_buildings(world.principal, 2, first.continuationToken)
    assert len(rest.items) == 1 and rest.continuationToken is None


def test_rooms_belong_to_their_building(world: World) -> None:
    admin, me = world.s.admin, world.principal
    b1 = admin.create_building(me, BuildingCreate(name="B1"))
    b2 = admin.create_building(me, BuildingCreate(name="B2"))
    room = admin.create_room(me, b1.id, RoomCreate(name="R", floor="2"))
    assert room.buildingId == b1.id and room.placeId == b1.placeId
    assert [r.id for r in admin.list_rooms(me, b1.id, 50, None).items] == [room.id]
    assert admin.list_rooms(me, b2.id, 50, None).items == []
    assert admin.get_room(me, room.id) == room


@pytest.mark.parametrize("missing", ["0b5f3c1e-9d2a-4f7b-8c6d-1e2f3a4b5c6d", "not-a-uuid"])
def test_unknown_or_malformed_ids_are_404(world: World, missing: str) -> None:
    admin, me = world.s.admin, world.principal
    for call in (
        lambda: admin.get_building(me, missing),
        lambda: admin.create_room(me, missing, RoomCreate(name="R")),
        lambda: admin.get_room(me, missing),
        lambda: admin.create_sensor(me, missing, SensorCreate(name="S", parameters=["co2"])),
        lambda: admin.get_sensor(me, missing),
        lambda: admin.rotate_key(me, missing),
    ):
        with pytest.raises(NotFound):
            call()


def test_another_organizations_resources_are_404(world: World) -> None:
    sensor = world.sensor()
    other = world.principal_for("other-org")
    admin = world.s.admin
    with pytest.raises(NotFound):
        admin.get_sensor(other, sensor.id)
    with pytest.raises(NotFound):
        admin.get_building(other, sensor.buildingId)
    with pytest.raises(NotFound):
        admin.get_room(other, sensor.roomId)
    with pytest.raises(NotFound):
        admin.update_sensor(other, sensor.id, SensorUpdate(status=SensorStatus.retired))
    with pytest.raises(NotFound):
        admin.rotate_key(other, sensor.id)
    assert admin.list_buildings(other, 50, None).items == []


def test_scopes_read_and_write(world: World) -> None:
    sensor = world.sensor()
    reader = world.principal_for("acme", ["sensors:read"])
    nobody = world.principal_for("acme", ["things:read"])
    assert world.s.admin.get_sensor(reader, sensor.id).id == sensor.id
    with pytest.raises(Forbidden):
        world.s.admin.create_building(reader, BuildingCreate(name="X"))
    with pytest.raises(Forbidden):
        world.s.admin.rotate_key(reader, sensor.id)
    with pytest.raises(Forbidden):
        world.s.admin.update_sensor(reader, sensor.id, SensorUpdate(name="x"))
    with pytest.raises(Forbidden):
        world.s.admin.get_sensor(nobody, sensor.id)
    with pytest.raises(Forbidden):
        world.s.admin.list_buildings(nobody, 50, None)


def test_resource_filters_limit_buildings_and_sensors(world: World) -> None:
    mine = world.sensor()
    theirs = world.sensor()
    building = world.s.admin.get_building(world.principal, mine.buildingId)
    issued = world.c.keys.issue("acme", None, ResourceFilters(places=[building.placeId]))
    limited = world.c.keys.authenticate(issued.key)
    assert [b.id for b in world.s.admin.list_buildings(limited, 50, None).items] == [mine.buildingId]
    assert world.s.admin.get_sensor(limited, mine.id).id == mine.id
    with pytest.raises(NotFound):
        world.s.admin.get_sensor(limited, theirs.id)
    with pytest.raises(Forbidden):
        world.s.admin.create_building(limited, BuildingCreate(name="X"))


def test_sensor_id_is_a_uuid_and_the_key_is_shown_once_and_stored_only_as_a_hash(world: World) -> None:
    sensor = world.sensor()
    assert str(uuid.UUID(sensor.id)) == sensor.id == sensor.sensorId
    assert sensor.secretKey.startswith("amq_sk_") and len(sensor.secretKey) >= 7 + 43
    assert sensor.keyPrefix == sensor.secretKey[:11]
    shown = world.s.admin.get_sensor(world.principal, sensor.id).model_dump()
    assert "secretKey" not in shown and "keyHash" not in shown and "metricIds" not in shown
    listed = world.s.admin.list_sensors(world.principal, sensor.roomId, 50, None).items
    assert [s.id for s in listed] == [sensor.id] and "keyHash" not in listed[0].model_dump()
    store = world.c.repo.store
    everything = repr(store._items)  # type: ignore[attr-defined]
    assert sensor.secretKey not in everything
    assert hash_secret(sensor.secretKey) in everything


def test_sensor_defaults_to_active_and_the_floor_interval(world: World) -> None:
    sensor = world.sensor()
    assert sensor.status is SensorStatus.active
    assert sensor.measurement_frequency_seconds == MIN_FREQUENCY_SECONDS == 300


@pytest.mark.parametrize(
    ("body", "path"),
    [
        ({"name": "S", "parameters": ["co2"], "measurement_frequency_seconds": 299}, "measurement_frequency_seconds"),
        ({"name": "S", "parameters": ["co2"], "measurement_frequency_seconds": 60}, "measurement_frequency_seconds"),
        ({"name": "S", "parameters": ["co2"], "measurement_frequency_seconds": 300.5}, "measurement_frequency_seconds"),
        ({"name": "S", "parameters": ["co2"], "measurement_frequency_seconds": "300"}, "measurement_frequency_seconds"),
        ({"name": "S", "parameters": []}, "parameters"),
        ({"name": "S", "parameters": ["co2", "co2"]}, "parameters"),
        ({"name": "S", "parameters": ["radon"]}, "parameters"),
        ({"name": "S", "parameters": ["co2"], "status": "broken"}, "status"),
        ({"parameters": ["co2"]}, "name"),
    ],
)
def test_invalid_sensor_bodies_are_refused_never_adjusted(body: dict[str, object], path: str) -> None:
    with pytest.raises(ValidationFailed) as caught:
        parse(SensorCreate, body)
    assert caught.value.errors[0].path[0] == path


def test_interval_above_the_floor_is_kept(world: World) -> None:
    sensor = world.sensor(measurement_frequency_seconds=900)
    assert world.s.admin.get_sensor(world.principal, sensor.id).measurement_frequency_seconds == 900


def test_patch_changes_status_parameters_and_interval_and_keeps_the_rest(world: World) -> None:
    sensor = world.sensor()
    updated = world.s.admin.update_sensor(
        world.principal,
        sensor.id,
        parse(
            SensorUpdate,
            {"status": "maintenance", "parameters": ["co2", "humidity"], "measurement_frequency_seconds": 600},
        ),
    )
    assert updated.status is SensorStatus.maintenance
    assert updated.parameters == ["co2", "humidity"]
    assert updated.measurement_frequency_seconds == 600
    assert updated.name == sensor.name and updated.thingId == sensor.thingId
    assert world.s.admin.get_sensor(world.principal, sensor.id) == updated
    with pytest.raises(ValidationFailed):
        parse(SensorUpdate, {"measurement_frequency_seconds": 120})
    with pytest.raises(ValidationFailed):
        parse(SensorUpdate, {"parameters": ["co2", "sound"]})


def test_rotation_shows_a_new_key_once_and_the_old_key_stops_at_once(world: World) -> None:
    sensor = world.sensor()
    rotated = world.s.admin.rotate_key(world.principal, sensor.id)
    assert rotated.secretKey != sensor.secretKey and rotated.keyPrefix == rotated.secretKey[:11]
    ingest = world.s.measurements
    with pytest.raises(InvalidKey):
        ingest.ingest(sensor.secretKey, batch(sensor.id, *DOC_READINGS))
    assert ingest.ingest(rotated.secretKey, batch(sensor.id, *DOC_READINGS)).sensor_id == sensor.id


def test_rotation_invalidates_an_old_key_even_if_its_lookup_item_survived(world: World) -> None:
    """A warm container may still cache the old key's lookup; the sensor's hash decides."""
    sensor = world.sensor()
    ingest = world.s.measurements
    ingest.ingest(sensor.secretKey, batch(sensor.id, *DOC_READINGS))  # caches the old key's owner
    world.s.admin.rotate_key(world.principal, sensor.id)
    world.clock.advance(301)
    with pytest.raises(InvalidKey):
        ingest.ingest(sensor.secretKey, batch(sensor.id, *DOC_READINGS))
