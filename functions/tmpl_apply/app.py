"""POST /v2/thing/{thingId}/data/template/{templateId}: map a raw payload onto a thing's metrics."""

from __future__ import annotations

from typing import Annotated, Any

from telemetry.coldstart import cold_start
from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.openapi.params import Query
from telemetry.bootstrap import container
from telemetry.http.app import build_app, entrypoint, json_body, json_response, principal, template_payload_body
from telemetry.models.templates import ApplyAnswer
from telemetry.services.templates.limits import MAX_PAYLOAD_BYTES

#: what this handler parses itself, for the OpenAPI document (devstack.openapi)
OPENAPI: dict[str, Any] = {
    "refusals": {
        404: "no such thing or template",
        422: "the template fails on this payload (a script error, timeout or memory limit; the problem says which)",
        424: "the thing has no thing type, or its type, version or time-series storage is missing",
    },
    "successExamples": [
        {
            "previewOnly": False,
            "templateId": "tmpl_abc123",
            "templateRevision": 7,
            "recordsParsed": 100,
            "readingsWritten": 98,
            "metricValuesWritten": 540,
            "recordsSkipped": [
                {"index": 12, "reason": "invalid_timestamp", "value": "n/a"},
                {"index": 30, "reason": "no_metric_values"},
            ],
            "metricsSkippedNotOnTtd": ["mdef_torque"],
            "fieldsSkippedMissing": [{"metricId": "mdef_mode", "count": 3}],
            "fieldsInvalid": [{"metricId": "mdef_voltage", "reason": "parse_failed", "count": 2}],
        }
    ],
    "requestBody": template_payload_body(),
}

app = build_app()


@app.post("/v2/thing/<thingId>/data/template/<templateId>")
def apply_template(thingId: str, templateId: str, previewOnly: Annotated[bool, Query()] = False) -> Response[str]:
    report = container().templates.apply(principal(app), thingId, templateId, json_body(app), preview_only=previewOnly)
    return json_response(200, ApplyAnswer.model_validate(report))


lambda_handler = cold_start(entrypoint(app, max_body_bytes=MAX_PAYLOAD_BYTES))
