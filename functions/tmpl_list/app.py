"""GET /v2/templates: list templates (active unless ``status`` says otherwise), filtered, paginated."""

from __future__ import annotations

from typing import Annotated

from telemetry.coldstart import cold_start
from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.openapi.params import Query
from telemetry.bootstrap import container
from telemetry.http.app import build_app, entrypoint, json_response, principal
from telemetry.models.templates import TemplateFormat, TemplateStatus, TemplateTarget

app = build_app()


@app.get("/v2/templates")
def list_templates(
    target: Annotated[TemplateTarget | None, Query()] = None,
    format: Annotated[TemplateFormat | None, Query()] = None,
    status: Annotated[TemplateStatus | None, Query()] = None,
    pageLimit: Annotated[int, Query(ge=1, le=500)] = 50,
    continuationToken: Annotated[str | None, Query(max_length=4096)] = None,
) -> Response[str]:
    page = container().templates.list_templates(
        principal(app), target=target, fmt=format, status=status, limit=pageLimit, cursor=continuationToken
    )
    return json_response(200, page)


lambda_handler = cold_start(entrypoint(app))
