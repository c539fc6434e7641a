"""POST /v2/integrations: create an integration (201); its credentials go to Secrets Manager."""

from __future__ import annotations

from typing import Annotated, Any

from telemetry.coldstart import cold_start
from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.openapi.params import Body
from telemetry.bootstrap import container
from telemetry.http.app import build_app, entrypoint, json_response, principal
from telemetry.models.integrations import Integration, IntegrationIn

#: what this handler parses itself, and its own refusals, for the OpenAPI document (devstack.openapi)
OPENAPI: dict[str, Any] = {
    "refusals": {
        404: "the template, or a thing named in resources, does not exist",
    },
}

app = build_app()


@app.post(
    "/v2/integrations",
    responses={
        201: {"description": "Created: the integration", "content": {"application/json": {"model": Integration}}}
    },
)
def create_integration(body: Annotated[IntegrationIn, Body()]) -> Response[str]:
    return json_response(201, container().integrations.create(principal(app), body))


lambda_handler = cold_start(entrypoint(app))
