"""POST /v2/buckets: create a data points bucket (backed by a platform fleet)."""

from __future__ import annotations

from telemetry.coldstart import cold_start
from aws_lambda_powertools.event_handler import Response
from telemetry.bootstrap import container
from telemetry.http.app import build_app, entrypoint, json_response, principal
from telemetry.models.dakkio import BucketCreate

app = build_app()


@app.post("/v2/buckets")
def create_bucket(body: BucketCreate) -> Response[str]:
    return json_response(201, container().dakkio.buckets.create_bucket(principal(app), body))


lambda_handler = cold_start(entrypoint(app))
