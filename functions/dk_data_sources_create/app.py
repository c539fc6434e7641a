"""POST /v2/buckets/{bucketId}/data-sources: create a data source and its value schema."""

from __future__ import annotations

from telemetry.coldstart import cold_start
from aws_lambda_powertools.event_handler import Response
from telemetry.bootstrap import container
from telemetry.http.app import build_app, entrypoint, json_response, principal
from telemetry.models.dakkio import DataSourceCreate

app = build_app()


@app.post("/v2/buckets/<bucketId>/data-sources")
def create_data_source(bucketId: str, body: DataSourceCreate) -> Response[str]:
    return json_response(201, container().dakkio.buckets.create_data_source(principal(app), bucketId, body))


lambda_handler = cold_start(entrypoint(app))
