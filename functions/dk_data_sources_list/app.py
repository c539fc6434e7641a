"""GET /v2/buckets/{bucketId}/data-sources: list a bucket's data sources."""

from __future__ import annotations

from typing import Annotated

from telemetry.coldstart import cold_start
from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.openapi.params import Query
from telemetry.bootstrap import container
from telemetry.http.app import build_app, entrypoint, json_response, principal

app = build_app()


@app.get("/v2/buckets/<bucketId>/data-sources")
def list_data_sources(
    bucketId: str,
    pageLimit: Annotated[int, Query(ge=1, le=500)] = 50,
    continuationToken: Annotated[str | None, Query(max_length=4096)] = None,
) -> Response[str]:
    page = container().dakkio.buckets.list_data_sources(principal(app), bucketId, pageLimit, continuationToken)
    return json_response(200, page)


lambda_handler = cold_start(entrypoint(app))
