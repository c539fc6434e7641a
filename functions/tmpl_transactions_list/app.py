"""GET /v2/transactions: transactions of one type in a time range, paginated."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from telemetry.coldstart import cold_start
from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.openapi.params import Query
from telemetry.bootstrap import container
from telemetry.http.app import build_app, entrypoint, json_response, principal
from telemetry.models.templates import TransactionPage

#: what this handler parses itself, and its own refusals, for the OpenAPI document (devstack.openapi)
OPENAPI: dict[str, Any] = {
    "refusals": {
        404: "the key has a place or thing filter: transactions belong to no place or thing, so they are outside it",
    },
}

app = build_app()


@app.get("/v2/transactions")
def list_transactions(
    type: Annotated[str, Query(min_length=1, max_length=128)],
    start: Annotated[str | None, Query(max_length=64)] = None,
    end: Annotated[str | None, Query(max_length=64)] = None,
    order: Annotated[Literal["asc", "desc"], Query()] = "asc",
    pageLimit: Annotated[int, Query(ge=1, le=1000)] = 100,
    continuationToken: Annotated[str | None, Query(max_length=4096)] = None,
) -> Response[str]:
    page = container().templates.list_transactions(
        principal(app), type, start=start, end=end, limit=pageLimit, cursor=continuationToken, order=order
    )
    return json_response(200, TransactionPage.model_validate(page))


lambda_handler = cold_start(entrypoint(app))
