"""POST /api/streams/ingest: the stream dialect's ingest; the data stream token is in the body (201)."""

from __future__ import annotations

from typing import Any

from telemetry.coldstart import cold_start
from aws_lambda_powertools.event_handler import Response
from telemetry.bootstrap import container
from telemetry.http.app import json_response
from telemetry.http.cloudthread import build_stream_app, entrypoint, raw_body
from telemetry.models.cloudthread import StreamIngestAnswer
from telemetry.services.cloudthread.ingest import MAX_BODY_BYTES

#: what this handler parses itself, for the OpenAPI document (devstack.openapi)
OPENAPI: dict[str, Any] = {
    "successExamples": [{"ingested": 1, "series": 1, "metric_agg_func": "Sum"}],
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {
                "schema": {
                    "type": "object",
                    "required": ["data_stream_token", "metric_agg_func", "data"],
                    "properties": {
                        "data_stream_token": {
                            "type": "string",
                            "minLength": 1,
                            "description": "the data stream's token (POST /v2/data-streams)",
                        },
                        "metric_agg_func": {"enum": ["Sum", "Average", "Maximum", "Minimum"]},
                        "data": {
                            "type": "array",
                            "minItems": 1,
                            "maxItems": 5000,
                            "items": {
                                "type": "object",
                                "required": ["timestamp", "metric_name", "metric_value"],
                                "properties": {
                                    "timestamp": {
                                        "type": "string",
                                        "pattern": "^[0-9]{4}-[0-9]{2}-[0-9]{2}[ T][0-9]{2}:00:00$",
                                        "description": "hourly granularity",
                                    },
                                    "metric_name": {"type": "string", "minLength": 1, "maxLength": 256},
                                    "metric_value": {"type": "number"},
                                    "custom_dimensions": {
                                        "type": "object",
                                        "maxProperties": 10,
                                        "additionalProperties": {"type": "string", "maxLength": 256},
                                    },
                                },
                            },
                        },
                    },
                    "examples": [
                        {
                            "data_stream_token": "<token>",
                            "metric_agg_func": "Sum",
                            "data": [
                                {
                                    "timestamp": "2022-10-01 00:00:00",
                                    "metric_name": "cost",
                                    "metric_value": 12.5,
                                    "custom_dimensions": {"team": "core"},
                                }
                            ],
                        }
                    ],
                }
            }
        },
    },
}

app = build_stream_app()


@app.post("/api/streams/ingest")
def ingest() -> Response[str]:
    result = container().cloudthread.ingest.ingest(raw_body(app))
    return json_response(201, StreamIngestAnswer.model_validate(result.as_dict()))


lambda_handler = cold_start(entrypoint(app, max_body_bytes=MAX_BODY_BYTES))
