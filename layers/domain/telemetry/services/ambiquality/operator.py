"""The operator side: buildings, rooms in buildings, sensors in rooms, key rotation.

Scopes: ``sensors:read`` for reads, ``sensors:write`` for changes. Everything is looked up in the
caller's organization; another organization's resource (or one outside a key's resource filter)
is 404. A building is backed by a platform site and a sensor by a platform thing in that site,
so a key's place/thing filters apply to them as to any site and thing.
"""

from __future__ import annotations

import secrets
import uuid

from telemetry.clock import iso_from_ms, now_ms
from telemetry.errors import Conflict, Forbidden, NotFound
from telemetry.ids import new_id
from telemetry.models.ambiquality import (
    SENSOR_KEY_PREFIX,
    Building,
    BuildingCreate,
    Room,
    RoomCreate,
    Sensor,
    SensorCreate,
    SensorRecord,
    SensorUpdate,
    SensorWithKey,
)
from telemetry.models.auth import Principal
from telemetry.models.base import Page
from telemetry.models.places import Place, PlaceKind
from telemetry.models.things import Thing
from telemetry.repositories.ambiquality import AmbiqualityRepository
from telemetry.services.ambiquality.catalog import THING_TYPE_NAME, CatalogProvisioner
from telemetry.services.auth import hash_secret, require

READ, WRITE = "sensors:read", "sensors:write"
_UPDATE_ATTEMPTS = 3


def new_sensor_key() -> str:
    """``amq_sk_`` + 256 random bits (URL-safe base64): shown once, stored only as its SHA-256."""
    return SENSOR_KEY_PREFIX + secrets.token_urlsafe(32)


def _canonical_uuid(raw: str, what: str) -> str:
    """Ids are UUIDs; anything else cannot exist (404, not 400: the path names a resource)."""
    try:
        return str(uuid.UUID(raw))
    except (ValueError, AttributeError):
        raise NotFound(f"{what} {raw} not found") from None


class SensorAdmin:
    def __init__(self, repo: AmbiqualityRepository, catalog: CatalogProvisioner) -> None:
        self.repo = repo
        self.catalog = catalog

    # ------------------------------------------------------------ buildings
    def create_building(self, principal: Principal, body: BuildingCreate) -> Building:
        require(principal, WRITE)
        if principal.filtered:
            raise Forbidden("a key with resource filters cannot create buildings")
        now = iso_from_ms(now_ms())
        building_id = str(uuid.uuid4())
        place = Place(
            id=new_id("site"),
            kind=PlaceKind.site,
            name=body.name,
            description=f"Ambiquality building {building_id}",
            address=body.address,
            timezone=body.timezone,
            latitude=body.latitude,
            longitude=body.longitude,
            tags={"ambiquality.buildingId": building_id},
            createdAt=now,
        )
        building = Building(id=building_id, placeId=place.id, createdAt=now, **body.model_dump())
        self.repo.create_building(principal.org_id, building, place)
        return building

    def _building(self, principal: Principal, building_id: str) -> Building:
        building = self.repo.get_building(principal.org_id, _canonical_uuid(building_id, "building"))
        if building is None or not principal.can_see_place(building.placeId):
            raise NotFound(f"building {building_id} not found")
        return building

    def get_building(self, principal: Principal, building_id: str) -> Building:
        require(principal, READ)
        return self._building(principal, building_id)

    def list_buildings(self, principal: Principal, limit: int, cursor: str | None) -> Page[Building]:
        require(principal, READ)
        items, next_cursor = self.repo.list_buildings(principal.org_id, limit, cursor)
        visible = [b for b in items if principal.can_see_place(b.placeId)]
        return Page[Building](items=visible, continuationToken=next_cursor)

    # ------------------------------------------------------------ rooms
    def create_room(self, principal: Principal, building_id: str, body: RoomCreate) -> Room:
        require(principal, WRITE)
        building = self._building(principal, building_id)
        room = Room(
            id=str(uuid.uuid4()),
            buildingId=building.id,
            placeId=building.placeId,
            createdAt=iso_from_ms(now_ms()),
            **body.model_dump(),
        )
        self.repo.create_room(principal.org_id, room)
        return room

    def _room(self, principal: Principal, room_id: str) -> Room:
        room = self.repo.get_room(principal.org_id, _canonical_uuid(room_id, "room"))
        if room is None or not principal.can_see_place(room.placeId):
            raise NotFound(f"room {room_id} not found")
        return room

    def get_room(self, principal: Principal, room_id: str) -> Room:
        require(principal, READ)
        return self._room(principal, room_id)

    def list_rooms(self, principal: Principal, building_id: str, limit: int, cursor: str | None) -> Page[Room]:
        require(principal, READ)
        building = self._building(principal, building_id)
        items, next_cursor = self.repo.list_rooms(principal.org_id, building.id, limit, cursor)
        return Page[Room](items=items, continuationToken=next_cursor)

    # ------------------------------------------------------------ sensors
    def create_sensor(self, principal: Principal, room_id: str, body: SensorCreate) -> SensorWithKey:
        require(principal, WRITE)
        room = self._room(principal, room_id)
        catalog = self.catalog.ensure(principal.org_id)
        now = iso_from_ms(now_ms())
        sensor_id = str(uuid.uuid4())
        thing_id = new_id("thing")
        key = new_sensor_key()
        sensor = SensorRecord(
            id=sensor_id,
            sensorId=sensor_id,
            name=body.name,
            roomId=room.id,
            buildingId=room.buildingId,
            parameters=body.parameters,
            measurement_frequency_seconds=body.measurement_frequency_seconds,
            status=body.status,
            manufacturer=body.manufacturer,
            model=body.model,
            serialNumber=body.serialNumber,
            thingId=thing_id,
            keyPrefix=key[: len(SENSOR_KEY_PREFIX) + 4],
            keyRotatedAt=now,
            createdAt=now,
            updatedAt=now,
            orgId=principal.org_id,
            placeId=room.placeId,
            keyHash=hash_secret(key),
            metricIds=catalog.metricIds,
        )
        thing = Thing(
            id=thing_id,
            thingId=thing_id,
            thingName=body.name,
            placeId=room.placeId,
            placeKind=PlaceKind.site,
            thingType=THING_TYPE_NAME,
            thingTypeId=catalog.thingTypeId,
            thingTypeVersionId=catalog.thingTypeVersionId,
            thingDescription=f"Ambiquality sensor {sensor_id} in room {room.name}",
            manufacturer=body.manufacturer,
            model=body.model,
            serialNumber=body.serialNumber,
            properties={"sensorId": sensor_id, "roomId": room.id, "buildingId": room.buildingId},
            createdAt=now,
        )
        self.repo.create_sensor(sensor, thing)
        return SensorWithKey(**sensor.public().model_dump(), secretKey=key)

    def _sensor(self, principal: Principal, sensor_id: str) -> tuple[SensorRecord, int]:
        found = self.repo.get_sensor(principal.org_id, _canonical_uuid(sensor_id, "sensor"))
        if found is None or not principal.can_see_thing(found[0].thingId, found[0].placeId):
            raise NotFound(f"sensor {sensor_id} not found")
        return found

    def get_sensor(self, principal: Principal, sensor_id: str) -> Sensor:
        require(principal, READ)
        return self._sensor(principal, sensor_id)[0].public()

    def list_sensors(self, principal: Principal, room_id: str, limit: int, cursor: str | None) -> Page[Sensor]:
        require(principal, READ)
        room = self._room(principal, room_id)
        items, next_cursor = self.repo.list_sensors(principal.org_id, room.id, limit, cursor)
        visible = [s.public() for s in items if principal.can_see_thing(s.thingId, s.placeId)]
        return Page[Sensor](items=visible, continuationToken=next_cursor)

    def update_sensor(self, principal: Principal, sensor_id: str, body: SensorUpdate) -> Sensor:
        """Optimistic concurrency, retried: two PATCHes of different fields both land."""
        require(principal, WRITE)
        changes = body.model_dump(exclude_unset=True, exclude_none=True)
        for attempt in range(_UPDATE_ATTEMPTS):
            current, ver = self._sensor(principal, sensor_id)
            if not changes:
                return current.public()
            updated = current.model_copy(update={**changes, "updatedAt": iso_from_ms(now_ms())})
            try:
                self.repo.update_sensor(updated, ver)
            except Conflict:
                if attempt == _UPDATE_ATTEMPTS - 1:
                    raise
                continue
            return updated.public()
        raise AssertionError("unreachable")  # pragma: no cover

    def rotate_key(self, principal: Principal, sensor_id: str) -> SensorWithKey:
        """A new key, valid at once; the old one stops working at once (it no longer matches)."""
        require(principal, WRITE)
        current, ver = self._sensor(principal, sensor_id)
        key = new_sensor_key()
        now = iso_from_ms(now_ms())
        updated = current.model_copy(
            update={
                "keyHash": hash_secret(key),
                "keyPrefix": key[: len(SENSOR_KEY_PREFIX) + 4],
                "keyRotatedAt": now,
                "updatedAt": now,
            }
        )
        self.repo.rotate_key(updated, ver, current.keyHash)
        return SensorWithKey(**updated.public().model_dump(), secretKey=key)
