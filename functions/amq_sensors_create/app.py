"""POST /v2/rooms/{roomId}/sensors: register a sensor; the answer shows its secret key once."""

from __future__ import annotations

from telemetry.coldstart import cold_start
from aws_lambda_powertools.event_handler import Response
from telemetry.bootstrap import container
from telemetry.http.ambiquality import NO_STORE
from telemetry.http.app import build_app, entrypoint, json_response, principal
from telemetry.models.ambiquality import SensorCreate

app = build_app()


@app.post("/v2/rooms/<roomId>/sensors")
def create_sensor(roomId: str, body: SensorCreate) -> Response[str]:
    return json_response(201, container().ambiquality.admin.create_sensor(principal(app), roomId, body), NO_STORE)


lambda_handler = cold_start(entrypoint(app))
