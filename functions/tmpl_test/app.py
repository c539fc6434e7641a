"""POST /v2/templates/{templateId}/test: dry-run a sample payload (no Thing, nothing written)."""

from __future__ import annotations

from typing import Any

from telemetry.coldstart import cold_start
from aws_lambda_powertools.event_handler import Response
from telemetry.bootstrap import container
from telemetry.http.app import build_app, entrypoint, json_body, json_response, principal, template_payload_body
from telemetry.models.templates import ApplyAnswer
from telemetry.services.templates.limits import MAX_PAYLOAD_BYTES

#: what this handler parses itself, for the OpenAPI document (devstack.openapi)
OPENAPI: dict[str, Any] = {
    "refusals": {
        404: "no such template (or another organization's)",
        422: "the template fails on this payload (a script error, timeout or memory limit; the problem says which)",
    },
    "requestBody": template_payload_body(),
}

app = build_app()


@app.post("/v2/templates/<templateId>/test")
def dry_run(templateId: str) -> Response[str]:
    answer = container().templates.test(principal(app), templateId, json_body(app))
    return json_response(200, ApplyAnswer.model_validate(answer))


lambda_handler = cold_start(entrypoint(app, max_body_bytes=MAX_PAYLOAD_BYTES))
