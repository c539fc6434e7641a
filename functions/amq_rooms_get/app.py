"""GET /v2/rooms/{roomId}: one room."""

from __future__ import annotations

from telemetry.coldstart import cold_start
from aws_lambda_powertools.event_handler import Response
from telemetry.bootstrap import container
from telemetry.http.app import build_app, entrypoint, json_response, principal

app = build_app()


@app.get("/v2/rooms/<roomId>")
def get_room(roomId: str) -> Response[str]:
    return json_response(200, container().ambiquality.admin.get_room(principal(app), roomId))


lambda_handler = cold_start(entrypoint(app))
