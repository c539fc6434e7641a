"""GET /v2/templates/{templateId}: one template (a deleted one too, with ``status: deleted``)."""

from __future__ import annotations

from telemetry.coldstart import cold_start
from aws_lambda_powertools.event_handler import Response
from telemetry.bootstrap import container
from telemetry.http.app import build_app, entrypoint, json_response, principal

app = build_app()


@app.get("/v2/templates/<templateId>")
def get_template(templateId: str) -> Response[str]:
    return json_response(200, container().templates.get(principal(app), templateId))


lambda_handler = cold_start(entrypoint(app))
