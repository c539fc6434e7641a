"""GET /v2/things/{thingId}/latest-event: the most recent reading of a thing."""

from __future__ import annotations

from telemetry.coldstart import cold_start
from aws_lambda_powertools.event_handler import Response
from telemetry.bootstrap import container
from telemetry.http.app import build_app, entrypoint, json_response, principal
from telemetry.models.things import ThingLatest

app = build_app()


@app.get("/v2/things/<thingId>/latest-event")
def latest_event(thingId: str) -> Response[str]:
    return json_response(200, ThingLatest.model_validate(container().queries.latest(principal(app), thingId)))


lambda_handler = cold_start(entrypoint(app))
