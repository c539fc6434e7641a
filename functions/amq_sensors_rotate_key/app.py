"""POST /v2/sensors/{sensorId}/rotate-key: a new secret key (shown once); the old one stops working at once."""

from __future__ import annotations

from typing import Any

from telemetry.coldstart import cold_start
from aws_lambda_powertools.event_handler import Response
from telemetry.bootstrap import container
from telemetry.http.ambiquality import NO_STORE
from telemetry.http.app import build_app, entrypoint, json_response, principal

#: what this handler parses itself, and its own refusals, for the OpenAPI document (devstack.openapi)
OPENAPI: dict[str, Any] = {
    "refusals": {
        404: "no such sensor (or outside the key's filters)",
        409: "other changes kept winning the race for the sensor's version; read it again and retry",
    },
}

app = build_app()


@app.post("/v2/sensors/<sensorId>/rotate-key")
def rotate_key(sensorId: str) -> Response[str]:
    return json_response(200, container().ambiquality.admin.rotate_key(principal(app), sensorId), NO_STORE)


lambda_handler = cold_start(entrypoint(app))
