"""POST /v2/fleets/{placeId}/things: register a thing in a fleet."""

from __future__ import annotations

from telemetry.coldstart import cold_start
from aws_lambda_powertools.event_handler import Response
from telemetry.bootstrap import container
from telemetry.http.app import build_app, entrypoint, json_response, principal
from telemetry.models.places import PlaceKind
from telemetry.models.things import ThingCreate

app = build_app()


@app.post("/v2/fleets/<placeId>/things")
def create_thing(placeId: str, body: ThingCreate) -> Response[str]:
    return json_response(201, container().things.create(principal(app), PlaceKind.fleet, placeId, body))


lambda_handler = cold_start(entrypoint(app))
