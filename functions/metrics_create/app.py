"""POST /v2/definitions/metrics: create a metric definition."""

from __future__ import annotations

from typing import Any

from telemetry.coldstart import cold_start
from aws_lambda_powertools.event_handler import Response
from telemetry.bootstrap import container
from telemetry.http.app import build_app, entrypoint, json_response, principal
from telemetry.models.metrics import MetricCreate

#: what this handler parses itself, and its own refusals, for the OpenAPI document (devstack.openapi)
OPENAPI: dict[str, Any] = {
    "refusals": {
        409: "a metric of that name already exists in the organization",
    },
}

app = build_app()


@app.post("/v2/definitions/metrics")
def create_metric(body: MetricCreate) -> Response[str]:
    return json_response(201, container().metrics.create(principal(app), body))


lambda_handler = cold_start(entrypoint(app))
