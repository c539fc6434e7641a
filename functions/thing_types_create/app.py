"""POST /v2/definitions/thing-types: create a thing type and its first version."""

from __future__ import annotations

from telemetry.coldstart import cold_start
from aws_lambda_powertools.event_handler import Response
from telemetry.bootstrap import container
from telemetry.http.app import build_app, entrypoint, json_response, principal
from telemetry.models.thing_types import ThingTypeCreate

app = build_app()


@app.post("/v2/definitions/thing-types")
def create_thing_type(body: ThingTypeCreate) -> Response[str]:
    return json_response(201, container().thing_types.create(principal(app), body))


lambda_handler = cold_start(entrypoint(app))
