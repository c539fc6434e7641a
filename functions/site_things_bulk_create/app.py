"""POST /v2/sites/{placeId}/things/bulk: register many things; answers per item."""

from __future__ import annotations

from typing import Annotated

from telemetry.coldstart import cold_start
from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.openapi.params import Body
from telemetry.bootstrap import container
from telemetry.http.app import build_app, entrypoint, json_response, principal
from telemetry.models.places import PlaceKind
from telemetry.models.things import ThingBulkCreate

app = build_app()


@app.post("/v2/sites/<placeId>/things/bulk")
def create_things(placeId: str, body: Annotated[ThingBulkCreate, Body()]) -> Response[str]:
    """201 when every item was created, 207 Multi-Status when some were not (see each result)."""
    result = container().things.create_bulk(principal(app), PlaceKind.site, placeId, body.root)
    return json_response(201 if result.failed == 0 else 207, result)


lambda_handler = cold_start(entrypoint(app))
