"""GET /v2/things/{thingId}/latest-event: the most recent reading of a thing."""

from __future__ import annotations

from typing import Any

from telemetry.coldstart import cold_start
from aws_lambda_powertools.event_handler import Response
from telemetry.bootstrap import container
from telemetry.http.app import build_app, entrypoint, json_response, principal
from telemetry.models.things import ThingLatest

#: what this handler parses itself, and its own refusals, for the OpenAPI document (devstack.openapi)
OPENAPI: dict[str, Any] = {
    "refusals": {
        404: "no such thing (or another organization's, or outside the key's filters)",
        424: "the thing has no thing type, or its type, version or time-series storage is missing",
    },
}

app = build_app()


@app.get("/v2/things/<thingId>/latest-event")
def latest_event(thingId: str) -> Response[str]:
    return json_response(200, ThingLatest.model_validate(container().queries.latest(principal(app), thingId)))


lambda_handler = cold_start(entrypoint(app))
