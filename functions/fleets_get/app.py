"""GET /v2/fleets/{placeId}: one fleet."""

from __future__ import annotations

from telemetry.coldstart import cold_start
from aws_lambda_powertools.event_handler import Response
from telemetry.bootstrap import container
from telemetry.http.app import build_app, entrypoint, json_response, principal
from telemetry.models.places import PlaceKind

app = build_app()


@app.get("/v2/fleets/<placeId>")
def get_fleet(placeId: str) -> Response[str]:
    return json_response(200, container().places.get(principal(app), PlaceKind.fleet, placeId))


lambda_handler = cold_start(entrypoint(app))
