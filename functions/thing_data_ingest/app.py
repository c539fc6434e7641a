"""POST /v2/thing/{thingId}/data: validate frames and durably enqueue them (200 after SQS acks)."""

from __future__ import annotations

from typing import Any

from telemetry.coldstart import cold_start
from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.metrics import MetricUnit
from telemetry.bootstrap import container
from telemetry.http.app import build_app, entrypoint, json_body, json_response, metrics, principal
from telemetry.limits import INGEST_MAX_BODY_BYTES

#: what this handler parses itself, for the OpenAPI document (devstack.openapi)
OPENAPI: dict[str, Any] = {
    "refusals": {
        404: "no such thing (or another organization's, or outside the key's filters)",
        424: "the thing has no thing type, or its type, version or time-series storage is missing",
    },
    "successExamples": [
        {"thingId": "thng_1a2b3c", "framesIngested": 1, "metrics": ["status", "moduleSoC", "moduleSoH"]}
    ],
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {
                "schema": {
                    "type": "object",
                    "required": ["frames"],
                    "additionalProperties": False,
                    "properties": {
                        "frames": {
                            "type": "array",
                            "minItems": 1,
                            "items": {
                                "type": "object",
                                "required": ["timestamp", "metrics"],
                                "properties": {
                                    "timestamp": {"type": "integer", "description": "epoch milliseconds"},
                                    "metrics": {
                                        "type": "object",
                                        "description": "metric name -> value, of the thing type's metrics",
                                    },
                                },
                            },
                        }
                    },
                    "examples": [
                        {
                            "frames": [
                                {
                                    "timestamp": 1718884800000,
                                    "metrics": {"status": 1, "moduleSoC": 87.4, "moduleSoH": 98.1},
                                }
                            ]
                        }
                    ],
                }
            }
        },
    },
}

app = build_app(validation=False)  # one path parameter, a body the service parses: nothing to validate


@app.post("/v2/thing/<thingId>/data")
def ingest_frames(thingId: str) -> Response[str]:
    result = container().ingest.ingest(principal(app), thingId, json_body(app))
    metrics.add_metric(name="FramesAccepted", unit=MetricUnit.Count, value=result.framesIngested)
    return json_response(200, result)  # orjson writes the dataclass itself: asdict's deep copy was ~40 µs


lambda_handler = cold_start(entrypoint(app, max_body_bytes=INGEST_MAX_BODY_BYTES))
