"""GET /v2/rooms/{roomId}/sensors: the sensors of a room, paginated."""

from __future__ import annotations

from typing import Annotated

from telemetry.coldstart import cold_start
from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.openapi.params import Query
from telemetry.bootstrap import container
from telemetry.http.app import build_app, entrypoint, json_response, principal

app = build_app()


@app.get("/v2/rooms/<roomId>/sensors")
def list_sensors(
    roomId: str,
    pageLimit: Annotated[int, Query(ge=1, le=500)] = 50,
    continuationToken: Annotated[str | None, Query(max_length=4096)] = None,
) -> Response[str]:
    return json_response(
        200, container().ambiquality.admin.list_sensors(principal(app), roomId, pageLimit, continuationToken)
    )


lambda_handler = cold_start(entrypoint(app))
