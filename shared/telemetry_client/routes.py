"""Every route the client calls, as data: one row per (method, path) of ``shared/openapi.json``.

The methods of :class:`~telemetry_client.Client` and :class:`~telemetry_client.AsyncClient` are
named after these rows, and the conformance test walks this table against the OpenAPI document
(every documented route present, every row documented, path and query parameters, the request
body component and its required fields).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Literal

from . import models as m

Auth = Literal["api-key", "sensor-key", "none", "body-token"]


@dataclass(frozen=True, slots=True)
class Route:
    name: str
    method: str
    path: str
    body: Any = None
    """The request body's TypedDict (named as its OpenAPI component), or None."""
    query: tuple[str, ...] = ()
    auth: Auth = "api-key"
    items: str | None = None
    """For a listing paged by ``continuationToken``: the key of the page's items."""

    @property
    def path_params(self) -> tuple[str, ...]:
        return tuple(re.findall(r"\{(\w+)\}", self.path))

    def url(self, **params: str) -> str:
        from urllib.parse import quote

        return re.sub(r"\{(\w+)\}", lambda g: quote(str(params[g.group(1)]), safe=""), self.path)


PAGE = ("pageLimit", "continuationToken")

ROUTES: dict[str, Route] = {
    r.name: r
    for r in [
        # metric definitions
        Route("create_metric", "POST", "/v2/definitions/metrics", m.MetricCreate),
        Route("list_metrics", "GET", "/v2/definitions/metrics", query=PAGE, items="items"),
        Route("get_metric", "GET", "/v2/definitions/metrics/{metricId}"),
        # thing types
        Route("create_thing_type", "POST", "/v2/definitions/thing-types", m.ThingTypeCreate),
        Route("list_thing_types", "GET", "/v2/definitions/thing-types", query=PAGE, items="items"),
        Route("get_thing_type", "GET", "/v2/definitions/thing-types/{thingTypeId}"),
        Route(
            "create_thing_type_version",
            "POST",
            "/v2/definitions/thing-types/{thingTypeId}/versions",
            m.ThingTypeVersionCreate,
        ),
        # places
        Route("create_site", "POST", "/v2/sites", m.PlaceCreate),
        Route("list_sites", "GET", "/v2/sites", query=PAGE, items="items"),
        Route("get_site", "GET", "/v2/sites/{placeId}"),
        Route("create_fleet", "POST", "/v2/fleets", m.PlaceCreate),
        Route("list_fleets", "GET", "/v2/fleets", query=PAGE, items="items"),
        Route("get_fleet", "GET", "/v2/fleets/{placeId}"),
        # things
        Route("create_site_thing", "POST", "/v2/sites/{placeId}/things", m.ThingCreate),
        Route("create_site_things_bulk", "POST", "/v2/sites/{placeId}/things/bulk", list[m.ThingCreate]),
        Route("list_site_things", "GET", "/v2/sites/{placeId}/things", query=PAGE, items="items"),
        Route("create_fleet_thing", "POST", "/v2/fleets/{placeId}/things", m.ThingCreate),
        Route("create_fleet_things_bulk", "POST", "/v2/fleets/{placeId}/things/bulk", list[m.ThingCreate]),
        Route("list_fleet_things", "GET", "/v2/fleets/{placeId}/things", query=PAGE, items="items"),
        Route("get_thing", "GET", "/v2/things/{thingId}"),
        # telemetry
        Route("send_frames", "POST", "/v2/thing/{thingId}/data", m.FramesIngest),
        Route("latest_event", "GET", "/v2/things/{thingId}/latest-event"),
        Route(
            "history",
            "GET",
            "/v2/things/{thingId}/history",
            query=("start", "end", "metrics", "order", *PAGE),
            items="frames",
        ),
        Route(
            "aggregates",
            "GET",
            "/v2/things/{thingId}/aggregates",
            query=("interval", "start", "end", "metrics", "aggregation"),
        ),
        # templates
        Route("create_template", "POST", "/v2/templates", m.TemplateCreate),
        Route("list_templates", "GET", "/v2/templates", query=("target", "format", "status", *PAGE), items="items"),
        Route("get_template", "GET", "/v2/templates/{templateId}"),
        Route("update_template", "PUT", "/v2/templates/{templateId}", m.TemplateUpdate),
        Route("delete_template", "DELETE", "/v2/templates/{templateId}"),
        Route("test_template", "POST", "/v2/templates/{templateId}/test", Any),
        Route("apply_template", "POST", "/v2/thing/{thingId}/data/template/{templateId}", Any, query=("previewOnly",)),
        Route("apply_transactions", "POST", "/v2/transactions/template/{templateId}", Any, query=("previewOnly",)),
        Route(
            "list_transactions",
            "GET",
            "/v2/transactions",
            query=("type", "start", "end", "order", *PAGE),
            items="transactions",
        ),
        # api keys
        Route("create_api_key", "POST", "/v2/api-keys", m.ApiKeyCreate),
        Route("list_api_keys", "GET", "/v2/api-keys", query=PAGE, items="items"),
        Route("get_api_key", "GET", "/v2/api-keys/{keyId}"),
        Route("revoke_api_key", "DELETE", "/v2/api-keys/{keyId}"),
        # integrations
        Route("create_integration", "POST", "/v2/integrations", m.IntegrationIn),
        Route("list_integrations", "GET", "/v2/integrations", query=PAGE, items="items"),
        Route("get_integration", "GET", "/v2/integrations/{integrationId}"),
        Route("replace_integration", "PUT", "/v2/integrations/{integrationId}", m.IntegrationIn),
        Route("delete_integration", "DELETE", "/v2/integrations/{integrationId}"),
        Route("start_integration_run", "POST", "/v2/integrations/{integrationId}/runs"),
        Route(
            "list_integration_runs", "GET", "/v2/integrations/{integrationId}/runs", query=("pageLimit",), items="items"
        ),
        # what a provider sends (authenticated by its signature, not a key)
        Route("send_integration_webhook", "POST", "/v2/integrations/{integrationId}/webhook", Any, auth="none"),
        # dakkio: operator side, then the dialect (the platform key as X-API-Key)
        Route("create_bucket", "POST", "/v2/buckets", m.BucketCreate),
        Route("list_buckets", "GET", "/v2/buckets", query=PAGE, items="items"),
        Route("get_bucket", "GET", "/v2/buckets/{bucketId}"),
        Route("create_data_source", "POST", "/v2/buckets/{bucketId}/data-sources", m.DataSourceCreate),
        Route("list_data_sources", "GET", "/v2/buckets/{bucketId}/data-sources", query=PAGE, items="items"),
        Route("dakkio_ingest", "POST", "/api/data", m.DakkioPointIn),
        Route("dakkio_ingest_batch", "POST", "/api/data/batch", list[m.DakkioPoint]),
        Route(
            "dakkio_query",
            "GET",
            "/api/data",
            query=("bucketId", "dataSourceId", "startTime", "endTime", "limit", "order"),
        ),  # pages by time (hasMore), not by token: see iter_dakkio_points
        # cloudthread: operator side, then the dialect (the token in the body)
        Route("create_data_stream", "POST", "/v2/data-streams", m.DataStreamCreate),
        Route("list_data_streams", "GET", "/v2/data-streams", query=PAGE, items="items"),
        Route("revoke_data_stream", "DELETE", "/v2/data-streams/{streamId}"),
        Route("list_stream_metrics", "GET", "/v2/data-streams/metrics"),
        Route(
            "query_stream_metric",
            "GET",
            "/v2/data-streams/metrics/{metricName}",
            query=("agg", "granularity", "start", "end", "groupBy"),
        ),
        Route("cloudthread_ingest", "POST", "/api/streams/ingest", list[m.CloudthreadItem], auth="body-token"),
        # ambiquality: operator side, then the dialect (X-Sensor-Key)
        Route("create_building", "POST", "/v2/buildings", m.BuildingCreate),
        Route("list_buildings", "GET", "/v2/buildings", query=PAGE, items="items"),
        Route("get_building", "GET", "/v2/buildings/{buildingId}"),
        Route("create_room", "POST", "/v2/buildings/{buildingId}/rooms", m.RoomCreate),
        Route("list_rooms", "GET", "/v2/buildings/{buildingId}/rooms", query=PAGE, items="items"),
        Route("get_room", "GET", "/v2/rooms/{roomId}"),
        Route("create_sensor", "POST", "/v2/rooms/{roomId}/sensors", m.SensorCreate),
        Route("list_sensors", "GET", "/v2/rooms/{roomId}/sensors", query=PAGE, items="items"),
        Route("get_sensor", "GET", "/v2/sensors/{sensorId}"),
        Route("update_sensor", "PATCH", "/v2/sensors/{sensorId}", m.SensorUpdate),
        Route("rotate_sensor_key", "POST", "/v2/sensors/{sensorId}/rotate-key"),
        Route("send_measurements", "POST", "/ingestion/v1/measurements", list[m.AmbiqualityReading], auth="sensor-key"),
        Route("list_parameters", "GET", "/ingestion/v1/parameters", auth="none"),
    ]
}
