"""GET /v2/things/{thingId}/aggregates: one value per metric per interval (1 minute to 1 day)."""

from __future__ import annotations

from typing import Annotated, Any

from telemetry.coldstart import cold_start
from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.openapi.params import Query
from telemetry.bootstrap import container
from telemetry.http.app import build_app, entrypoint, json_response, principal
from telemetry.models.things import ThingAggregates

#: what this handler parses itself, and its own refusals, for the OpenAPI document (devstack.openapi)
OPENAPI: dict[str, Any] = {
    "refusals": {
        404: "no such thing (or another organization's, or outside the key's filters)",
        424: "the thing has no thing type, or its type, version or time-series storage is missing",
    },
}

app = build_app()


@app.get("/v2/things/<thingId>/aggregates")
def aggregates(
    thingId: str,
    interval: Annotated[str, Query(max_length=16)],
    start: Annotated[str | None, Query(max_length=64)] = None,
    end: Annotated[str | None, Query(max_length=64)] = None,
    metrics: Annotated[str | None, Query(max_length=4096)] = None,
    aggregation: Annotated[str | None, Query(max_length=16)] = None,
) -> Response[str]:
    result = container().queries.aggregates(
        principal(app), thingId, start=start, end=end, interval=interval, metrics=metrics, aggregation=aggregation
    )
    return json_response(200, ThingAggregates.model_validate(result))


lambda_handler = cold_start(entrypoint(app))
