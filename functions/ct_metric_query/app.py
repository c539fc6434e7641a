"""GET /v2/data-streams/metrics/{metricName}: a stream metric combined by its aggregation function."""

from __future__ import annotations

from typing import Annotated, Literal
from urllib.parse import unquote

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.openapi.params import Query
from telemetry.bootstrap import container
from telemetry.http.app import json_response, principal
from telemetry.http.cloudthread import build_stream_app, dimension_filters, entrypoint

app = build_stream_app()


@app.get("/v2/data-streams/metrics/<metricName>")
def query_metric(
    metricName: str,
    agg: Annotated[str | None, Query(max_length=16)] = None,
    granularity: Annotated[Literal["hourly", "daily"], Query()] = "hourly",
    start: Annotated[str | None, Query(max_length=64)] = None,
    end: Annotated[str | None, Query(max_length=64)] = None,
    groupBy: Annotated[str | None, Query(max_length=1024)] = None,
) -> Response[str]:
    name = unquote(metricName)  # REST API path parameters arrive percent-encoded ("cost%20per%20user")
    result = container().cloudthread.queries.metric(
        principal(app),
        name,
        agg=agg,
        granularity=granularity,
        start=start,
        end=end,
        filters=dimension_filters(app),
        group_by=groupBy,
    )
    return json_response(200, result)


lambda_handler = entrypoint(app)
