"""POST /v2/definitions/thing-types/{thingTypeId}/versions: add a version."""

from __future__ import annotations

from typing import Any

from telemetry.coldstart import cold_start
from aws_lambda_powertools.event_handler import Response
from telemetry.bootstrap import container
from telemetry.http.app import build_app, entrypoint, json_response, principal
from telemetry.models.thing_types import ThingTypeVersionCreate

#: what this handler parses itself, and its own refusals, for the OpenAPI document (devstack.openapi)
OPENAPI: dict[str, Any] = {
    "refusals": {
        404: "no such thing type, or a metricId that does not exist",
        409: "other changes kept winning the race for the thing type's version; read it again and retry",
    },
}

app = build_app()


@app.post("/v2/definitions/thing-types/<thingTypeId>/versions")
def create_thing_type_version(thingTypeId: str, body: ThingTypeVersionCreate) -> Response[str]:
    return json_response(201, container().thing_types.add_version(principal(app), thingTypeId, body))


lambda_handler = cold_start(entrypoint(app))
