"""GET /v2/definitions/metrics/{metricId}: one metric definition."""

from __future__ import annotations

from telemetry.coldstart import cold_start
from aws_lambda_powertools.event_handler import Response
from telemetry.bootstrap import container
from telemetry.http.app import build_app, entrypoint, json_response, principal

app = build_app()


@app.get("/v2/definitions/metrics/<metricId>")
def get_metric(metricId: str) -> Response[str]:
    return json_response(200, container().metrics.get(principal(app), metricId))


lambda_handler = cold_start(entrypoint(app))
