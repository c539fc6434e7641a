"""GET /v2/sites/{placeId}/things: the things of a site, paginated."""

from __future__ import annotations

from typing import Annotated

from telemetry.coldstart import cold_start
from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.openapi.params import Query
from telemetry.bootstrap import container
from telemetry.http.app import build_app, entrypoint, json_response, principal
from telemetry.models.places import PlaceKind

app = build_app()


@app.get("/v2/sites/<placeId>/things")
def list_things(
    placeId: str,
    pageLimit: Annotated[int, Query(ge=1, le=500)] = 50,
    continuationToken: Annotated[str | None, Query(max_length=4096)] = None,
) -> Response[str]:
    things = container().things
    return json_response(
        200, things.list_in_place(principal(app), PlaceKind.site, placeId, pageLimit, continuationToken)
    )


lambda_handler = cold_start(entrypoint(app))
