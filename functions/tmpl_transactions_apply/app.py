"""POST /v2/transactions/template/{templateId}: map a raw payload into transaction records."""

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
        404: "no such template (or another organization's)",
    },
    "requestBody": template_payload_body(),
}

app = build_app()


@app.post("/v2/transactions/template/<templateId>")
def apply_transactions(templateId: str, previewOnly: Annotated[bool, Query()] = False) -> Response[str]:
    report = container().templates.apply_transactions(
        principal(app), templateId, json_body(app), preview_only=previewOnly
    )
    return json_response(200, ApplyAnswer.model_validate(report))


lambda_handler = cold_start(entrypoint(app, max_body_bytes=MAX_PAYLOAD_BYTES))
