"""PUT /v2/integrations/{integrationId}: replace an integration (credentials left out are kept)."""

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
        404: "no such integration (or another organization's)",
        409: "other changes kept winning the race for the integration's version; read it again and retry",
    },
}

app = build_app()


@app.put(
    "/v2/integrations/<integrationId>",
    responses={
        200: {"description": "The replaced integration", "content": {"application/json": {"model": Integration}}}
    },
)
def replace_integration(integrationId: str, body: Annotated[IntegrationIn, Body()]) -> Response[str]:
    return json_response(200, container().integrations.replace(principal(app), integrationId, body))


lambda_handler = cold_start(entrypoint(app))
