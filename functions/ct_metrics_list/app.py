"""GET /v2/data-streams/metrics: the stream metric names with their aggregation functions."""

from __future__ import annotations

from telemetry.coldstart import cold_start
from aws_lambda_powertools.event_handler import Response
from telemetry.bootstrap import container
from telemetry.http.app import build_app, entrypoint, json_response, principal
from telemetry.models.cloudthread import StreamMetrics

app = build_app()


@app.get("/v2/data-streams/metrics")
def list_metrics() -> Response[str]:
    return json_response(200, StreamMetrics.model_validate(container().cloudthread.queries.metrics(principal(app))))


lambda_handler = cold_start(entrypoint(app))
