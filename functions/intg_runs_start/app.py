"""POST /v2/integrations/{integrationId}/runs: start a pull now (202 with the queued run)."""

from __future__ import annotations

from telemetry.coldstart import cold_start
from aws_lambda_powertools.event_handler import Response
from telemetry.bootstrap import container
from telemetry.http.app import build_app, entrypoint, json_response, principal
from telemetry.models.integrations import IntegrationRunOut

app = build_app()


@app.post(
    "/v2/integrations/<integrationId>/runs",
    responses={202: {"description": "Queued: the run", "content": {"application/json": {"model": IntegrationRunOut}}}},
)
def start_run(integrationId: str) -> Response[str]:
    return json_response(202, container().integrations.start_run(principal(app), integrationId))


lambda_handler = cold_start(entrypoint(app))
