"""GET /v2/definitions/thing-types/{thingTypeId}: a thing type with all its versions."""

from __future__ import annotations

from telemetry.coldstart import cold_start
from aws_lambda_powertools.event_handler import Response
from telemetry.bootstrap import container
from telemetry.http.app import build_app, entrypoint, json_response, principal

app = build_app()


@app.get("/v2/definitions/thing-types/<thingTypeId>")
def get_thing_type(thingTypeId: str) -> Response[str]:
    return json_response(200, container().thing_types.get(principal(app), thingTypeId))


lambda_handler = cold_start(entrypoint(app))
