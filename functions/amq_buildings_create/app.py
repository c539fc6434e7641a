"""POST /v2/buildings: register a building (backed by a platform site)."""

from __future__ import annotations

from telemetry.coldstart import cold_start
from aws_lambda_powertools.event_handler import Response
from telemetry.bootstrap import container
from telemetry.http.app import build_app, entrypoint, json_response, principal
from telemetry.models.ambiquality import BuildingCreate

app = build_app()


@app.post("/v2/buildings")
def create_building(body: BuildingCreate) -> Response[str]:
    return json_response(201, container().ambiquality.admin.create_building(principal(app), body))


lambda_handler = cold_start(entrypoint(app))
