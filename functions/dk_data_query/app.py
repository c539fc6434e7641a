"""GET /api/data: query a bucket's data points (X-API-Key with data:read)."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.event_handler import Response
from telemetry.bootstrap import container
from telemetry.http.dakkio import (
    DATA_QUERY_PARAMETERS,
    api_key,
    build_dakkio_app,
    dakkio_entrypoint,
    json_response,
    query_params,
)
from telemetry.limits import DK_MAX_QUERY_BODY_BYTES

#: what this handler parses itself, for the OpenAPI document (devstack.openapi)
OPENAPI: dict[str, Any] = {"parameters": DATA_QUERY_PARAMETERS}

app = build_dakkio_app()


@app.get("/api/data")
def query() -> Response[str]:
    services = container().dakkio
    caller = services.base.keys.authenticate(api_key(app))
    services.limiter.take(caller)
    return json_response(200, services.queries.query(caller, query_params(app)))


lambda_handler = dakkio_entrypoint(app, max_body_bytes=DK_MAX_QUERY_BODY_BYTES)
