"""POST /v2/fleets: create a fleet."""

from __future__ import annotations

from telemetry.coldstart import cold_start
from aws_lambda_powertools.event_handler import Response
from telemetry.bootstrap import container
from telemetry.http.app import build_app, entrypoint, json_response, principal
from telemetry.models.places import PlaceCreate, PlaceKind

app = build_app()


@app.post("/v2/fleets")
def create_fleet(body: PlaceCreate) -> Response[str]:
    return json_response(201, container().places.create(principal(app), PlaceKind.fleet, body))


lambda_handler = cold_start(entrypoint(app))
