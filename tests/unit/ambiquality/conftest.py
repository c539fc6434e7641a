"""Fixtures of the Ambiquality unit tests: real services on in_memory_container(), no mocks."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import orjson
import pytest
from telemetry.bootstrap import Container
from telemetry.bootstrap.ambiquality import AmbiqualityServices
from telemetry.models.ambiquality import BuildingCreate, RoomCreate, SensorCreate, SensorWithKey
from telemetry.models.auth import Principal

from tests.fakes import in_memory_container

T0 = 1_714_564_800_000  # 2024-05-01T12:00:00.000Z


class Clock:
    """A settable clock for the ingestion service (milliseconds)."""

    def __init__(self, now: int = T0) -> None:
        self.now = now

    def __call__(self) -> int:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += int(seconds * 1000)


@dataclass
class World:
    c: Container
    s: AmbiqualityServices
    clock: Clock
    admin_key: str
    principal: Principal

    def sensor(self, parameters: list[str] | None = None, **kw: Any) -> SensorWithKey:
        building = self.s.admin.create_building(self.principal, BuildingCreate(name="HQ"))
        room = self.s.admin.create_room(self.principal, building.id, RoomCreate(name="Room 1"))
        body = SensorCreate(name="Desk", parameters=parameters or ["co2", "temperature"], **kw)
        return self.s.admin.create_sensor(self.principal, room.id, body)

    def principal_for(self, org: str, scopes: list[str] | None = None) -> Principal:
        return self.c.keys.authenticate(self.c.keys.issue(org, scopes).key)


@pytest.fixture
def world() -> World:
    c = in_memory_container()
    s = c.ambiquality
    clock = Clock()
    s.measurements.clock = clock
    issued = c.keys.issue("acme")
    return World(c, s, clock, issued.key, c.keys.authenticate(issued.key))


def batch(sensor_id: str, *readings: tuple[Any, Any, Any]) -> bytes:
    return orjson.dumps(
        {"sensorId": sensor_id, "readings": [{"parameterCode": p, "value": v, "unit": u} for p, v, u in readings]}
    )


DOC_READINGS = (("co2", 812, "ppm"), ("temperature", 21.4, "°C"))

Send = Callable[..., Any]
