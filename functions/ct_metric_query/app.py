"""GET /v2/data-streams/metrics/{metricName}: a stream metric combined by its aggregation function."""

from __future__ import annotations

from typing import Annotated, Any, Literal
from urllib.parse import unquote

from telemetry.coldstart import cold_start
from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.openapi.params import Query
from telemetry.bootstrap import container
from telemetry.http.app import json_response, principal
from telemetry.http.cloudthread import build_stream_app, dimension_filters, entrypoint

#: for the OpenAPI document (devstack.openapi): docs/cloudthread.md's answer, verbatim
#: (tests/contract/test_answer_examples.py)
OPENAPI: dict[str, Any] = {
    "successExamples": [
        {
            "metric_name": "active_users",
            "metric_agg_func": "Sum",
            "granularity": "daily",
            "start": "2022-10-01 00:00:00",
            "end": "2022-10-08 00:00:00",
            "groupBy": ["region"],
            "filter": {"product": ["web"]},
            "seriesMatched": 2,
            "groups": [
                {
                    "dimensions": {"region": "eu"},
                    "points": [{"timestamp": "2022-10-01 00:00:00", "value": 2500.0, "count": 2}],
                }
            ],
        }
    ]
}

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


lambda_handler = cold_start(entrypoint(app))
