"""PATCH /v2/sensors/{sensorId}: status, declared parameters, reporting interval, name."""

from __future__ import annotations

from typing import Any

from telemetry.coldstart import cold_start
from aws_lambda_powertools.event_handler import Response
from telemetry.bootstrap import container
from telemetry.http.app import build_app, entrypoint, json_response, principal
from telemetry.models.ambiquality import SensorUpdate

#: what this handler parses itself, and its own refusals, for the OpenAPI document (devstack.openapi)
OPENAPI: dict[str, Any] = {
    "refusals": {
        404: "no such sensor (or outside the key's filters)",
        409: "other changes kept winning the race for the sensor's version; read it again and retry",
    },
}

app = build_app()


@app.patch("/v2/sensors/<sensorId>")
def update_sensor(sensorId: str, body: SensorUpdate) -> Response[str]:
    return json_response(200, container().ambiquality.admin.update_sensor(principal(app), sensorId, body))


lambda_handler = cold_start(entrypoint(app))
