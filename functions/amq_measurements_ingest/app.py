"""POST /ingestion/v1/measurements: a sensor's batch, authenticated by X-Sensor-Key (no authorizer).

202 once the batch is durably enqueued; every refusal is problem+json (telemetry.http.ambiquality).
"""

from __future__ import annotations

from typing import Any

from telemetry.coldstart import cold_start
from aws_lambda_powertools.event_handler import Response
from telemetry.bootstrap import container
from telemetry.http.ambiquality import build_ingestion_app, ingestion_entrypoint, json_answer, sensor_key
from telemetry.http.app import raw_body
from telemetry.models.ambiquality import MeasurementsAccepted
from telemetry.services.ambiquality.measurements import MAX_BODY_BYTES

#: what this handler parses itself, for the OpenAPI document (devstack.openapi)
OPENAPI: dict[str, Any] = {
    "successExamples": [
        {
            "sensorId": "33333333-3333-3333-3333-333333333333",
            "receivedAt": "2024-06-21T08:00:00.000Z",
            "measurements": [{"id": "meas_01", "parameterCode": "co2"}],
        }
    ],
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {
                "schema": {
                    "type": "object",
                    "required": ["sensorId", "readings"],
                    "additionalProperties": False,
                    "properties": {
                        "sensorId": {"type": "string", "minLength": 1},
                        "readings": {
                            "type": "array",
                            "minItems": 1,
                            "items": {
                                "type": "object",
                                "required": ["parameterCode", "value", "unit"],
                                "properties": {
                                    "parameterCode": {
                                        "type": "string",
                                        "description": "one the sensor declared (GET /ingestion/v1/parameters)",
                                    },
                                    "value": {"type": "number"},
                                    "unit": {"type": "string", "description": "the parameter's canonical unit"},
                                },
                            },
                        },
                    },
                    "examples": [
                        {
                            "sensorId": "33333333-3333-3333-3333-333333333333",
                            "readings": [
                                {"parameterCode": "co2", "value": 812, "unit": "ppm"},
                                {"parameterCode": "temperature", "value": 21.4, "unit": "°C"},
                            ],
                        }
                    ],
                }
            }
        },
    },
}

app = build_ingestion_app()


@app.post("/ingestion/v1/measurements")
def ingest_measurements() -> Response[str]:
    accepted = container().ambiquality.measurements.ingest(sensor_key(app), raw_body(app))
    return json_answer(202, MeasurementsAccepted.model_validate(accepted.as_dict()))


lambda_handler = cold_start(ingestion_entrypoint(app, max_body_bytes=MAX_BODY_BYTES))
