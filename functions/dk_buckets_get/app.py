"""GET /v2/buckets/{bucketId}: get a bucket."""

from __future__ import annotations

from telemetry.coldstart import cold_start
from aws_lambda_powertools.event_handler import Response
from telemetry.bootstrap import container
from telemetry.http.app import build_app, entrypoint, json_response, principal

app = build_app()


@app.get("/v2/buckets/<bucketId>")
def get_bucket(bucketId: str) -> Response[str]:
    return json_response(200, container().dakkio.buckets.get_bucket(principal(app), bucketId))


lambda_handler = cold_start(entrypoint(app))
