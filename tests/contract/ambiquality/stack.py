"""A LocalStack for the Ambiquality contract and end-to-end tests (moto in a child process, the
gateway over real HTTP), and the operator calls they need, made over HTTP like an operator."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

import requests

from tests.support import eventually, issue_key, running_stack

__all__ = ["eventually", "issue_key", "running_stack"]

DOC_BASE = "https://data.ambiquality.org"
DOC_SENSOR_ID = "33333333-3333-3333-3333-333333333333"


@dataclass
class Registered:
    api_key: str
    building: dict[str, Any]
    room: dict[str, Any]
    sensor: dict[str, Any]

    @property
    def sensor_id(self) -> str:
        return str(self.sensor["id"])

    @property
    def sensor_key(self) -> str:
        return str(self.sensor["secretKey"])


def register_sensor(
    url: str, api_key: str | None = None, parameters: tuple[str, ...] = ("co2", "temperature"), **extra: Any
) -> Registered:
    """Building, room and sensor through the operator API (the document's prerequisites)."""
    api_key = api_key or issue_key(f"amq-{uuid.uuid4().hex[:8]}")
    h = {"X-Api-Key": api_key}
    building = requests.post(f"{url}/v2/buildings", json={"name": "HQ"}, headers=h, timeout=10)
    assert building.status_code == 201, building.text
    room = requests.post(
        f"{url}/v2/buildings/{building.json()['id']}/rooms", json={"name": "Room 1"}, headers=h, timeout=10
    )
    assert room.status_code == 201, room.text
    sensor = requests.post(
        f"{url}/v2/rooms/{room.json()['id']}/sensors",
        json={"name": "Desk", "parameters": list(parameters), **extra},
        headers=h,
        timeout=10,
    )
    assert sensor.status_code == 201, sensor.text
    return Registered(api_key, building.json(), room.json(), sensor.json())
