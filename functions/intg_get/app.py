"""GET /v2/integrations/{integrationId}: one integration with its status (never its credentials)."""

from __future__ import annotations

from telemetry.coldstart import cold_start
from aws_lambda_powertools.event_handler import Response
from telemetry.bootstrap import container
from telemetry.http.app import build_app, entrypoint, json_response, principal
from telemetry.models.integrations import Integration

app = build_app()


@app.get(
    "/v2/integrations/<integrationId>",
    responses={
        200: {"description": "The integration and its status", "content": {"application/json": {"model": Integration}}}
    },
)
def get_integration(integrationId: str) -> Response[str]:
    return json_response(200, container().integrations.get(principal(app), integrationId))


lambda_handler = cold_start(entrypoint(app))
