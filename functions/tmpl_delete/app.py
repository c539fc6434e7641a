"""DELETE /v2/templates/{templateId}: soft delete (``status: deleted``); returns the template."""

from __future__ import annotations

from typing import Any

from telemetry.coldstart import cold_start
from aws_lambda_powertools.event_handler import Response
from telemetry.bootstrap import container
from telemetry.http.app import build_app, entrypoint, json_response, principal

#: what this handler parses itself, and its own refusals, for the OpenAPI document (devstack.openapi)
OPENAPI: dict[str, Any] = {
    "refusals": {
        404: "no such template (or another organization's)",
        409: "other changes kept winning the race for the template's version; read it again and retry",
    },
}

app = build_app()


@app.delete("/v2/templates/<templateId>")
def delete_template(templateId: str) -> Response[str]:
    return json_response(200, container().templates.delete(principal(app), templateId))


lambda_handler = cold_start(entrypoint(app))
