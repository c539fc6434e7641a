"""DELETE /v2/integrations/{integrationId}: delete an integration, its schedule, secret, state and runs (204)."""

from __future__ import annotations

from telemetry.coldstart import cold_start
from aws_lambda_powertools.event_handler import Response
from telemetry.bootstrap import container
from telemetry.http.app import build_app, entrypoint, principal

app = build_app()


@app.delete("/v2/integrations/<integrationId>", responses={204: {"description": "Deleted (no body)"}})
def delete_integration(integrationId: str) -> Response[str]:
    container().integrations.delete(principal(app), integrationId)
    return Response(status_code=204, body="")


lambda_handler = cold_start(entrypoint(app))
