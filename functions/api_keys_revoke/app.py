"""DELETE /v2/api-keys/{keyId}: revoke an API key (idempotent); refused everywhere within 60 s."""

from __future__ import annotations

from telemetry.coldstart import cold_start
from aws_lambda_powertools.event_handler import Response
from telemetry.bootstrap import container
from telemetry.http.app import build_app, entrypoint, principal

app = build_app()


@app.delete("/v2/api-keys/<keyId>")
def revoke_api_key(keyId: str) -> Response[str]:
    container().keys.revoke(principal(app), keyId)
    return Response(status_code=204, body="")


lambda_handler = cold_start(entrypoint(app))
