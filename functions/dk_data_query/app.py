"""GET /api/data: query a bucket's data points (X-API-Key with data:read)."""

from __future__ import annotations

from typing import Any

from telemetry.coldstart import cold_start
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
OPENAPI: dict[str, Any] = {
    # docs/dakkio.md's 200 body, verbatim (tests/contract/test_answer_examples.py)
    "successExamples": [
        {
            "dataPoints": [
                {
                    "_id": "507f1f77bcf86cd799439016",
                    "bucketId": "507f1f77bcf86cd799439011",
                    "dataSourceId": "507f1f77bcf86cd799439012",
                    "timestamp": "2024-01-15T10:30:00Z",
                    "values": {"temperature": 22.5, "humidity": 65, "pressure": 1013.25},
                    "metadata": {"deviceId": "ESP32-001", "location": "Living Room", "batteryLevel": 85},
                    "createdAt": "2024-01-15T10:30:05Z",
                }
            ],
            "count": 1,
            "hasMore": False,
            "query": {
                "bucketId": "507f1f77bcf86cd799439011",
                "dataSourceId": None,
                "startTime": "1970-01-01T00:00:00Z",
                "endTime": "2024-01-16T00:00:00Z",
                "limit": 100,
                "order": "desc",
            },
        }
    ],
    "parameters": DATA_QUERY_PARAMETERS,
}

app = build_dakkio_app()


@app.get("/api/data")
def query() -> Response[str]:
    services = container().dakkio
    caller = services.base.keys.authenticate(api_key(app))
    services.limiter.take(caller)
    return json_response(200, services.queries.query(caller, query_params(app)))


lambda_handler = cold_start(dakkio_entrypoint(app, max_body_bytes=DK_MAX_QUERY_BODY_BYTES))
