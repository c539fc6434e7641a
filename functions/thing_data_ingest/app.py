"""POST /v2/thing/{thingId}/data: validate frames and durably enqueue them (200 after SQS acks)."""

from __future__ import annotations

from dataclasses import asdict

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.metrics import MetricUnit
from telemetry.bootstrap import container
from telemetry.http.app import build_app, entrypoint, json_body, json_response, metrics, principal
from telemetry.limits import INGEST_MAX_BODY_BYTES

app = build_app()


@app.post("/v2/thing/<thingId>/data")
def ingest_frames(thingId: str) -> Response[str]:
    result = container().ingest.ingest(principal(app), thingId, json_body(app))
    metrics.add_metric(name="FramesAccepted", unit=MetricUnit.Count, value=result.framesIngested)
    return json_response(200, asdict(result))


lambda_handler = entrypoint(app, max_body_bytes=INGEST_MAX_BODY_BYTES)
