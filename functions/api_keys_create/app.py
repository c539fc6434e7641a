"""POST /v2/api-keys: create a platform API key; the secret is in this answer only."""

from __future__ import annotations

from telemetry.coldstart import cold_start
from aws_lambda_powertools.event_handler import Response
from telemetry.bootstrap import container
from telemetry.http.app import build_app, entrypoint, json_response, principal
from telemetry.models.auth import ApiKeyCreate

app = build_app()


@app.post("/v2/api-keys")
def create_api_key(body: ApiKeyCreate) -> Response[str]:
    return json_response(201, container().keys.create(principal(app), body))


lambda_handler = cold_start(entrypoint(app))
