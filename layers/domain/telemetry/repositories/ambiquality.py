"""Item layouts of the Ambiquality dialect in the definitions table.

================================  =====================================  ===================================
item                              pk / sk                                gsi1
================================  =====================================  ===================================
building                          ORG#<org> / AMQBLDG#<buildingId>
room                              ORG#<org> / AMQROOM#<roomId>           ORG#<org>#AMQBLDG#<b> / AMQROOM#<r>
sensor                            ORG#<org> / AMQSENSOR#<sensorId>       ORG#<org>#AMQROOM#<r> / AMQSENSOR#<s>
sensor key by hash (auth lookup)  AMQKEY#<sha256> / AMQKEY
catalog (metric and type ids)     ORG#<org> / AMQCATALOG
rate-limit lease of a sensor      ORG#<org> / AMQRATE#<sensorId>         (TTL: expiresAt)
================================  =====================================  ===================================

A building is written together with the platform site that backs it, a sensor together with
its platform thing and its key lookup, so either both exist or neither does. The key lookup
item only says which sensor a hash *claimed* to be; authentication also compares the hash with
the sensor's current ``keyHash`` (see :mod:`telemetry.services.ambiquality.measurements`), so
a lookup item left behind by a rotation can never authenticate.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

from telemetry.models.ambiquality import Building, ParameterCatalog, Room, SensorRecord
from telemetry.models.metrics import MetricDefinition
from telemetry.models.places import Place
from telemetry.models.thing_types import ThingType, ThingTypeVersion
from telemetry.models.things import Thing
from telemetry.ports.definitions import Expect, Item, ItemStore
from telemetry.repositories.definitions import DefinitionsRepository, org_pk


def _doc(model: BaseModel) -> dict[str, Any]:
    return model.model_dump(mode="json", exclude_none=True)


def key_pk(key_hash: str) -> str:
    return f"AMQKEY#{key_hash}"


class AmbiqualityRepository:
    def __init__(self, definitions: DefinitionsRepository) -> None:
        self.definitions = definitions
        self.store: ItemStore = definitions.store

    # ------------------------------------------------------------ catalog
    def get_catalog(self, org_id: str) -> ParameterCatalog | None:
        found = self.store.get(org_pk(org_id), "AMQCATALOG")
        return ParameterCatalog.model_validate(found.doc) if found else None

    def metric_id_by_name(self, org_id: str, name: str) -> str | None:
        found = self.store.get(org_pk(org_id), f"METRICNAME#{name.casefold()}")
        return str(found.doc["metricId"]) if found else None

    def create_metric(self, org_id: str, metric: MetricDefinition) -> None:
        self.definitions.create_metric(org_id, metric)

    def create_catalog(
        self, org_id: str, catalog: ParameterCatalog, thing_type: ThingType, version: ThingTypeVersion
    ) -> None:
        """The thing type and the catalog pointer in one transaction: Conflict if another
        request created the catalog first (then its thing type is the one in use)."""
        self.store.write(
            [
                Item(org_pk(org_id), f"TTYPE#{thing_type.id}", _doc(thing_type), expect=Expect.VERSION),
                DefinitionsRepository._version_item(org_id, version),
                Item(org_pk(org_id), "AMQCATALOG", _doc(catalog), expect=Expect.NEW, label="the parameter catalog"),
            ]
        )

    # ------------------------------------------------------------ buildings and rooms
    def create_building(self, org_id: str, building: Building, place: Place) -> None:
        self.store.write(
            [
                Item(org_pk(org_id), f"PLACE#{place.id}", _doc(place), expect=Expect.NEW),
                Item(org_pk(org_id), f"AMQBLDG#{building.id}", _doc(building), expect=Expect.NEW),
            ]
        )

    def get_building(self, org_id: str, building_id: str) -> Building | None:
        found = self.store.get(org_pk(org_id), f"AMQBLDG#{building_id}")
        return Building.model_validate(found.doc) if found else None

    def list_buildings(self, org_id: str, limit: int, cursor: str | None) -> tuple[list[Building], str | None]:
        rows, next_cursor = self.store.query(org_pk(org_id), "AMQBLDG#", limit=limit, cursor=cursor)
        return [Building.model_validate(r.doc) for r in rows], next_cursor

    def create_room(self, org_id: str, room: Room) -> None:
        self.store.write(
            [
                Item(
                    org_pk(org_id),
                    f"AMQROOM#{room.id}",
                    _doc(room),
                    gsi1pk=f"{org_pk(org_id)}#AMQBLDG#{room.buildingId}",
                    gsi1sk=f"AMQROOM#{room.id}",
                    expect=Expect.NEW,
                )
            ]
        )

    def get_room(self, org_id: str, room_id: str) -> Room | None:
        found = self.store.get(org_pk(org_id), f"AMQROOM#{room_id}")
        return Room.model_validate(found.doc) if found else None

    def list_rooms(
        self, org_id: str, building_id: str, limit: int, cursor: str | None
    ) -> tuple[list[Room], str | None]:
        rows, next_cursor = self.store.query(
            f"{org_pk(org_id)}#AMQBLDG#{building_id}", "AMQROOM#", limit=limit, cursor=cursor, index="gsi1"
        )
        return [Room.model_validate(r.doc) for r in rows], next_cursor

    # ------------------------------------------------------------ sensors
    @staticmethod
    def _sensor_item(sensor: SensorRecord, expect: Expect, expected_ver: int = 0) -> Item:
        return Item(
            org_pk(sensor.orgId),
            f"AMQSENSOR#{sensor.id}",
            _doc(sensor),
            gsi1pk=f"{org_pk(sensor.orgId)}#AMQROOM#{sensor.roomId}",
            gsi1sk=f"AMQSENSOR#{sensor.id}",
            expect=expect,
            expected_ver=expected_ver,
            label=f"sensor {sensor.id}",
        )

    @staticmethod
    def _key_item(sensor: SensorRecord) -> Item:
        return Item(
            key_pk(sensor.keyHash),
            "AMQKEY",
            {"orgId": sensor.orgId, "sensorId": sensor.id},
            expect=Expect.NEW,
        )

    def create_sensor(self, sensor: SensorRecord, thing: Thing) -> None:
        self.store.write(
            [
                DefinitionsRepository._thing_item(sensor.orgId, thing),
                self._sensor_item(sensor, Expect.NEW),
                self._key_item(sensor),
            ]
        )

    def get_sensor(self, org_id: str, sensor_id: str) -> tuple[SensorRecord, int] | None:
        found = self.store.get(org_pk(org_id), f"AMQSENSOR#{sensor_id}")
        return (SensorRecord.model_validate(found.doc), found.ver) if found else None

    def list_sensors(
        self, org_id: str, room_id: str, limit: int, cursor: str | None
    ) -> tuple[list[SensorRecord], str | None]:
        rows, next_cursor = self.store.query(
            f"{org_pk(org_id)}#AMQROOM#{room_id}", "AMQSENSOR#", limit=limit, cursor=cursor, index="gsi1"
        )
        return [SensorRecord.model_validate(r.doc) for r in rows], next_cursor

    def update_sensor(self, sensor: SensorRecord, expected_ver: int) -> None:
        """Optimistic: Conflict if the sensor changed since it was read."""
        self.store.write([self._sensor_item(sensor, Expect.VERSION, expected_ver)])

    def rotate_key(self, sensor: SensorRecord, expected_ver: int, old_hash: str) -> None:
        """New hash on the sensor and its lookup item in one transaction, then drop the old lookup."""
        self.store.write([self._sensor_item(sensor, Expect.VERSION, expected_ver), self._key_item(sensor)])
        self.store.delete(key_pk(old_hash), "AMQKEY")

    def sensor_by_key_hash(self, key_hash: str) -> tuple[str, str] | None:
        """(orgId, sensorId) the key lookup item names, if any."""
        found = self.store.get(key_pk(key_hash), "AMQKEY")
        return (str(found.doc["orgId"]), str(found.doc["sensorId"])) if found else None

    # ------------------------------------------------------------ rate limit
    def take_slot(self, org_id: str, sensor_id: str, now_ms: int, until_ms: int) -> None:
        """Atomically take the sensor's reporting slot until ``until_ms``; Conflict if it is held."""
        self.store.write(
            [
                Item(
                    org_pk(org_id),
                    f"AMQRATE#{sensor_id}",
                    {"leaseUntil": until_ms, "takenAt": now_ms},
                    expires_at=until_ms // 1000 + 3600,
                    expect=Expect.LEASE,
                    lease_until=until_ms,
                    lease_now=now_ms,
                    label=f"the reporting slot of sensor {sensor_id}",
                )
            ]
        )

    def slot_until(self, org_id: str, sensor_id: str) -> int | None:
        found = self.store.get(org_pk(org_id), f"AMQRATE#{sensor_id}")
        return int(found.doc["leaseUntil"]) if found else None

    def release_slot(self, org_id: str, sensor_id: str) -> None:
        """Give the slot back (the batch was not accepted). Safe without a condition: while this
        request held the lease nobody else could take it, and an expired lease is free anyway."""
        self.store.delete(org_pk(org_id), f"AMQRATE#{sensor_id}")
