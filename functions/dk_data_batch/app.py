"""POST /api/data/batch: ingest up to 1000 data points of one bucket, all or nothing (201)."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.event_handler import Response
from telemetry.bootstrap import container
from telemetry.http.dakkio import api_key, build_dakkio_app, dakkio_entrypoint, data_point_body, json_response, raw_body
from telemetry.services.dakkio.ingest import MAX_BODY_BYTES

#: what this handler parses itself, for the OpenAPI document (devstack.openapi)
OPENAPI: dict[str, Any] = {"requestBody": data_point_body(batch=True)}

app = build_dakkio_app()


@app.post("/api/data/batch")
def ingest_batch() -> Response[str]:
    services = container().dakkio
    caller = services.base.keys.authenticate(api_key(app))
    services.limiter.take(caller)
    return json_response(201, services.ingest.ingest_batch(caller, raw_body(app)))


lambda_handler = dakkio_entrypoint(app, max_body_bytes=MAX_BODY_BYTES)
