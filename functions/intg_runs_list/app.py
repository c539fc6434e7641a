"""GET /v2/integrations/{integrationId}/runs: the most recent runs, newest first, with their reports."""

from __future__ import annotations

from typing import Annotated

from telemetry.coldstart import cold_start
from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.openapi.params import Query
from telemetry.bootstrap import container
from telemetry.http.app import build_app, entrypoint, json_response, principal
from telemetry.models.integrations import RunList

app = build_app()


@app.get(
    "/v2/integrations/<integrationId>/runs",
    responses={200: {"description": "Recent runs, newest first", "content": {"application/json": {"model": RunList}}}},
)
def list_runs(integrationId: str, pageLimit: Annotated[int, Query(ge=1, le=100)] = 20) -> Response[str]:
    return json_response(200, container().integrations.runs(principal(app), integrationId, pageLimit))


lambda_handler = cold_start(entrypoint(app))
