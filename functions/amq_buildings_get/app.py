"""GET /v2/buildings/{buildingId}: one building."""

from __future__ import annotations

from telemetry.coldstart import cold_start
from aws_lambda_powertools.event_handler import Response
from telemetry.bootstrap import container
from telemetry.http.app import build_app, entrypoint, json_response, principal

app = build_app()


@app.get("/v2/buildings/<buildingId>")
def get_building(buildingId: str) -> Response[str]:
    return json_response(200, container().ambiquality.admin.get_building(principal(app), buildingId))


lambda_handler = cold_start(entrypoint(app))
