"""POST /api/data: ingest one data point (X-API-Key with data:write; 201 echoes the point)."""

from __future__ import annotations

from typing import Any

from telemetry.coldstart import cold_start
from aws_lambda_powertools.event_handler import Response
from telemetry.bootstrap import container
from telemetry.http.dakkio import api_key, build_dakkio_app, dakkio_entrypoint, data_point_body, json_response, raw_body
from telemetry.services.dakkio.ingest import MAX_BODY_BYTES

#: what this handler parses itself, for the OpenAPI document (devstack.openapi)
OPENAPI: dict[str, Any] = {
    "refusals": {
        404: "no such bucket or data source (or another organization's)",
    },
    # the document's 201 body, verbatim (tests/contract/test_answer_examples.py)
    "successExamples": [
        {
            "message": "Data point ingested successfully",
            "dataPoint": {
                "_id": "507f1f77bcf86cd799439016",
                "bucketId": "507f1f77bcf86cd799439011",
                "dataSourceId": "507f1f77bcf86cd799439012",
                "timestamp": "2024-01-15T10:30:00Z",
                "values": {"temperature": 22.5, "humidity": 65, "pressure": 1013.25},
                "metadata": {"deviceId": "ESP32-001", "location": "Living Room", "batteryLevel": 85},
                "createdAt": "2024-01-15T10:30:05Z",
            },
        }
    ],
    "requestBody": data_point_body(batch=False),
}

app = build_dakkio_app()


@app.post("/api/data")
def ingest() -> Response[str]:
    services = container().dakkio
    caller = services.base.keys.authenticate(api_key(app))
    services.limiter.take(caller)
    return json_response(201, services.ingest.ingest_one(caller, raw_body(app)))


lambda_handler = cold_start(dakkio_entrypoint(app, max_body_bytes=MAX_BODY_BYTES))
