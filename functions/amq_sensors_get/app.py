"""GET /v2/sensors/{sensorId}: one sensor (never its key)."""

from __future__ import annotations

from telemetry.coldstart import cold_start
from aws_lambda_powertools.event_handler import Response
from telemetry.bootstrap import container
from telemetry.http.app import build_app, entrypoint, json_response, principal

app = build_app()


@app.get("/v2/sensors/<sensorId>")
def get_sensor(sensorId: str) -> Response[str]:
    return json_response(200, container().ambiquality.admin.get_sensor(principal(app), sensorId))


lambda_handler = cold_start(entrypoint(app))
