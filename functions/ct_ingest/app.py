"""POST /api/streams/ingest: the stream dialect's ingest; the data stream token is in the body (201)."""

from __future__ import annotations

from aws_lambda_powertools.event_handler import Response
from telemetry.bootstrap import container
from telemetry.http.app import json_response
from telemetry.http.cloudthread import build_stream_app, entrypoint, raw_body
from telemetry.services.cloudthread.ingest import MAX_BODY_BYTES

app = build_stream_app()


@app.post("/api/streams/ingest")
def ingest() -> Response[str]:
    result = container().cloudthread.ingest.ingest(raw_body(app))
    return json_response(201, result.as_dict())


lambda_handler = entrypoint(app, max_body_bytes=MAX_BODY_BYTES)
