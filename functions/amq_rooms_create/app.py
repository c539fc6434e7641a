"""POST /v2/buildings/{buildingId}/rooms: add a room to a building."""

from __future__ import annotations

from telemetry.coldstart import cold_start
from aws_lambda_powertools.event_handler import Response
from telemetry.bootstrap import container
from telemetry.http.app import build_app, entrypoint, json_response, principal
from telemetry.models.ambiquality import RoomCreate

app = build_app()


@app.post("/v2/buildings/<buildingId>/rooms")
def create_room(buildingId: str, body: RoomCreate) -> Response[str]:
    return json_response(201, container().ambiquality.admin.create_room(principal(app), buildingId, body))


lambda_handler = cold_start(entrypoint(app))
