"""Helpers of the Ambiquality integration tests (on top of tests/integration/conftest.py)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from tests.integration.conftest import Answer, Platform

DOC_READINGS = [
    {"parameterCode": "co2", "value": 812, "unit": "ppm"},
    {"parameterCode": "temperature", "value": 21.4, "unit": "°C"},
]


@dataclass
class Made:
    key: str  #: the operator's platform API key
    building: dict[str, Any]
    room: dict[str, Any]
    sensor: dict[str, Any]

    @property
    def sensor_key(self) -> str:
        return str(self.sensor["secretKey"])

    @property
    def sensor_id(self) -> str:
        return str(self.sensor["id"])


def make_sensor(p: Platform, key: str | None = None, **sensor: Any) -> Made:
    key = key or p.key(f"amq-{uuid.uuid4().hex[:8]}")
    building = p.call("POST", "/v2/buildings", {"name": "HQ"}, key=key)
    assert building.status == 201, building
    room = p.call("POST", f"/v2/buildings/{building.body['id']}/rooms", {"name": "Room 1"}, key=key)
    assert room.status == 201, room
    body = {"name": "Desk", "parameters": ["co2", "temperature"], **sensor}
    created = p.call("POST", f"/v2/rooms/{room.body['id']}/sensors", body, key=key)
    assert created.status == 201, created
    return Made(key, building.body, room.body, created.body)


def send(p: Platform, sensor_key: str | None, body: Any) -> Answer:
    headers = {"X-Sensor-Key": sensor_key} if sensor_key is not None else {}
    return p.call("POST", "/ingestion/v1/measurements", body, headers=headers)


def assert_problem(answer: Answer, status: int, reason: str) -> dict[str, Any]:
    assert answer.status == status, answer
    assert answer.header("Content-Type") == "application/problem+json"
    body = answer.body
    assert body["type"] == f"urn:ambiquality:ingestion:{reason}", body
    assert body["status"] == status and body["title"] and body["detail"]
    return dict(body)
