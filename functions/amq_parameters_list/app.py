"""GET /ingestion/v1/parameters: the parameter catalog (codes, canonical units, ranges). No auth."""

from __future__ import annotations

from telemetry.coldstart import cold_start
from aws_lambda_powertools.event_handler import Response
from telemetry.http.ambiquality import build_ingestion_app, ingestion_entrypoint, json_answer
from telemetry.limits import AMQ_MAX_QUERY_BODY_BYTES
from telemetry.models.ambiquality import ParameterList
from telemetry.services.ambiquality.catalog import catalog_parameters

app = build_ingestion_app()


@app.get("/ingestion/v1/parameters")
def list_parameters() -> Response[str]:
    return json_answer(
        200, ParameterList.model_validate({"items": catalog_parameters()}), {"Cache-Control": "public, max-age=3600"}
    )


lambda_handler = cold_start(ingestion_entrypoint(app, max_body_bytes=AMQ_MAX_QUERY_BODY_BYTES))
