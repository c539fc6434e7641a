"""GET /v2/things/{thingId}: one thing."""

from __future__ import annotations

from telemetry.coldstart import cold_start
from aws_lambda_powertools.event_handler import Response
from telemetry.bootstrap import container
from telemetry.http.app import build_app, entrypoint, json_response, principal

app = build_app()


@app.get("/v2/things/<thingId>")
def get_thing(thingId: str) -> Response[str]:
    return json_response(200, container().things.get(principal(app), thingId))


lambda_handler = cold_start(entrypoint(app))
