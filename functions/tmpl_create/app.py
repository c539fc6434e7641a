"""POST /v2/templates: validate and store a template (201)."""

from __future__ import annotations

from typing import Any

from telemetry.coldstart import cold_start
from aws_lambda_powertools.event_handler import Response
from telemetry.bootstrap import container
from telemetry.http.app import build_app, entrypoint, json_body, json_response, principal
from telemetry.models.templates import TemplateCreate

#: what this handler parses itself, for the OpenAPI document (devstack.openapi)
OPENAPI: dict[str, Any] = {"requestBody": TemplateCreate}

app = build_app()


@app.post("/v2/templates")
def create_template() -> Response[str]:
    return json_response(201, container().templates.create(principal(app), json_body(app)))


lambda_handler = cold_start(entrypoint(app))
