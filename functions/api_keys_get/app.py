"""GET /v2/api-keys/{keyId}: one API key of the organization (never its secret or hash)."""

from __future__ import annotations

from telemetry.coldstart import cold_start
from aws_lambda_powertools.event_handler import Response
from telemetry.bootstrap import container
from telemetry.http.app import build_app, entrypoint, json_response, principal

app = build_app()


@app.get("/v2/api-keys/<keyId>")
def get_api_key(keyId: str) -> Response[str]:
    return json_response(200, container().keys.get(principal(app), keyId))


lambda_handler = cold_start(entrypoint(app))
