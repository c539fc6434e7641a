"""POST /v2/data-streams: create a data stream token (shown once, stored as a hash)."""

from __future__ import annotations

from telemetry.coldstart import cold_start
from aws_lambda_powertools.event_handler import Response
from telemetry.bootstrap import container
from telemetry.http.app import build_app, entrypoint, json_response, principal
from telemetry.models.cloudthread import DataStreamCreate

app = build_app()


@app.post("/v2/data-streams")
def create_stream(body: DataStreamCreate) -> Response[str]:
    return json_response(201, container().cloudthread.tokens.create(principal(app), body))


lambda_handler = cold_start(entrypoint(app))
