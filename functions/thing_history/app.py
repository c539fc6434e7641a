"""GET /v2/things/{thingId}/history: readings in a time range, optionally some metrics, paginated."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from telemetry.coldstart import cold_start
from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.openapi.params import Query
from telemetry.bootstrap import container
from telemetry.http.app import build_app, entrypoint, json_response, principal
from telemetry.models.things import ThingHistory

#: what this handler parses itself, and its own refusals, for the OpenAPI document (devstack.openapi)
OPENAPI: dict[str, Any] = {
    "refusals": {
        404: "no such thing (or another organization's, or outside the key's filters)",
        424: "the thing has no thing type, or its type, version or time-series storage is missing",
    },
}

app = build_app()


@app.get("/v2/things/<thingId>/history")
def history(
    thingId: str,
    start: Annotated[str | None, Query(max_length=64)] = None,
    end: Annotated[str | None, Query(max_length=64)] = None,
    metrics: Annotated[str | None, Query(max_length=4096)] = None,
    order: Annotated[Literal["asc", "desc"], Query()] = "asc",
    pageLimit: Annotated[int, Query(ge=1, le=1000)] = 100,
    continuationToken: Annotated[str | None, Query(max_length=4096)] = None,
) -> Response[str]:
    page = container().queries.history(
        principal(app),
        thingId,
        start=start,
        end=end,
        metrics=metrics,
        limit=pageLimit,
        cursor=continuationToken,
        order=order,
    )
    return json_response(200, ThingHistory.model_validate(page))


lambda_handler = cold_start(entrypoint(app))
