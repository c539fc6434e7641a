"""PUT /v2/templates/{templateId}: change name, description, spec, tags; bumps ``revision``."""

from __future__ import annotations

from typing import Any

from telemetry.coldstart import cold_start
from aws_lambda_powertools.event_handler import Response
from telemetry.bootstrap import container
from telemetry.http.app import build_app, entrypoint, json_body, json_response, principal
from telemetry.models.templates import TemplateUpdate

#: what this handler parses itself, for the OpenAPI document (devstack.openapi)
OPENAPI: dict[str, Any] = {
    "requestBody": TemplateUpdate,
    "refusals": {
        404: "no such template (or another organization's)",
        409: "the template is deleted, or other changes kept winning the race for its revision; read it again",
    },
}

app = build_app()


@app.put("/v2/templates/<templateId>")
def update_template(templateId: str) -> Response[str]:
    updated = container().templates.update(principal(app), templateId, json_body(app))
    return json_response(200, updated)


lambda_handler = cold_start(entrypoint(app))
