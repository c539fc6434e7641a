"""DELETE /v2/data-streams/{streamId}: revoke a data stream token, effective at once (204)."""

from __future__ import annotations

from telemetry.coldstart import cold_start
from aws_lambda_powertools.event_handler import Response
from telemetry.bootstrap import container
from telemetry.http.app import build_app, entrypoint, principal

app = build_app()


@app.delete("/v2/data-streams/<streamId>")
def revoke_stream(streamId: str) -> Response[str]:
    container().cloudthread.tokens.revoke(principal(app), streamId)
    return Response(status_code=204, body="")


lambda_handler = cold_start(entrypoint(app))
