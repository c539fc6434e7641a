"""What the sync and async clients share: request building, the retry policy, answer parsing and
every single-request method (written once, generic over the client's return type)."""

from __future__ import annotations

import random
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Generic, TypeVar

import httpx
import orjson

from . import limits
from . import models as m
from .chunking import dumps, merge_bulk, merge_counted, merge_ingest, merge_reports, split_items, split_records
from .errors import ApiError, error_from_response, parse_retry_after
from .routes import ROUTES

R = TypeVar("R")
"""What one call returns: ``Json`` for the sync client, ``Awaitable[Json]`` for the async one."""
P = TypeVar("P")
"""What a listing returns: ``Iterator[Json]`` or ``AsyncIterator[Json]``."""

DEFAULT_URL = "http://127.0.0.1:3000"
USER_AGENT = "telemetry-client/0.1"
_NOBODY: Any = object()


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """Retries on 429 and 503 (and on a connection that never opened), never on other 4xx.

    The wait is ``Retry-After`` when the server sends it (plus up to 10 % jitter, so many clients
    told the same wait do not return in step), else exponential backoff with full jitter:
    ``uniform(0, min(max_backoff, backoff * 2**attempt))``. A ``Retry-After`` longer than
    ``max_retry_after`` is not slept through: the typed error is raised with it.
    """

    attempts: int = 5
    backoff: float = 0.5
    max_backoff: float = 20.0
    max_retry_after: float = 120.0
    statuses: frozenset[int] = field(default_factory=lambda: frozenset({429, 503}))
    rng: random.Random = field(default_factory=random.Random, compare=False)

    def delay(self, attempt: int, *, status: int | None = None, retry_after: float | None = None) -> float | None:
        """Seconds to wait before attempt ``attempt + 1``, or None to give up."""
        if attempt + 1 >= self.attempts or (status is not None and status not in self.statuses):
            return None
        if retry_after is not None:
            if retry_after > self.max_retry_after:
                return None
            return retry_after + self.rng.uniform(0, max(0.05, retry_after * 0.1))
        return self.rng.uniform(0, min(self.max_backoff, self.backoff * 2**attempt))


NO_RETRY = RetryPolicy(attempts=1)

#: connection failures where the request certainly never reached the server (safe to resend)
RETRYABLE_TRANSPORT_ERRORS = (httpx.ConnectError, httpx.ConnectTimeout)


class _Repeated(tuple[str, ...]):
    """A query parameter sent once per value (``a=1&a=2``), not comma-joined."""

    def __new__(cls, values: Sequence[str]) -> _Repeated:
        return super().__new__(cls, (str(v) for v in values))


def query_value(value: Any) -> str | list[str]:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, _Repeated):
        return list(value)
    if isinstance(value, list | tuple):
        return ",".join(str(v) for v in value)
    return str(value)


def parse(response: httpx.Response) -> m.Json:
    """The JSON of a 2xx answer (``{}`` for 204), or the typed error."""
    if response.status_code >= 400:
        raise error_from_response(response)
    if response.status_code == 204 or not response.content:
        return {}
    body = response.json()
    return body if isinstance(body, dict) else {"items": body}


def attach_partial(error: ApiError, offset: int, sent: Any) -> ApiError:
    """Mark an error from part of a split request: ``offset`` is the index of the part's first
    item in the whole, ``sent`` the merged answer of the parts accepted before it."""
    error.offset = offset  # type: ignore[attr-defined]
    error.sent = sent  # type: ignore[attr-defined]
    return error


@dataclass(frozen=True, slots=True)
class Part:
    """One request of a split call; ``offset`` is the index of its first item in the whole."""

    offset: int
    name: str
    path: Mapping[str, str] | None
    query: Mapping[str, Any] | None
    body: Any


@dataclass(frozen=True, slots=True)
class SplitPlan:
    """The requests a call is split into and how their answers merge (sans I/O: the sync and the
    async client each only send the parts in order)."""

    parts: list[Part]
    merge: Callable[[list[tuple[int, m.Json]]], m.Json]
    partial: bool = True  # whether an error carries ``offset`` / ``sent`` (False for an unsplit call)

    def failed(self, error: ApiError, part: Part, done: list[tuple[int, m.Json]]) -> ApiError:
        """The error of ``part``, marked with what the parts before it were answered."""
        return attach_partial(error, part.offset, self.merge(done) if done else None) if self.partial else error


def retry_wait(policy: RetryPolicy, attempt: int, response: httpx.Response | None) -> float | None:
    """Seconds to wait before resending after ``response`` (None: a connection that never opened),
    or None to stop: the answer is final, or the transport error is to be raised."""
    if response is None:
        return policy.delay(attempt)
    if response.status_code not in policy.statuses:
        return None
    return policy.delay(
        attempt, status=response.status_code, retry_after=parse_retry_after(response.headers.get("retry-after"))
    )


def may_exceed_records(payload: Any, limit: int = limits.MAX_TEMPLATE_RECORDS) -> bool:
    """Whether any array in the payload (two levels deep) is longer than the record limit: only
    then is the template fetched to find its ``recordsPointer``."""
    nodes = [payload]
    for _ in range(3):
        nxt: list[Any] = []
        for node in nodes:
            values = node.values() if isinstance(node, dict) else node if isinstance(node, list) else []
            if isinstance(node, list) and len(node) > limit:
                return True
            nxt.extend(v for v in values if isinstance(v, dict | list))
        nodes = nxt[:1000]
    return False


def needs_template(payload: Any) -> bool:
    """Whether a templated payload may need splitting (then its template's spec is fetched)."""
    return len(dumps(payload)) > limits.MAX_TEMPLATE_BYTES or may_exceed_records(payload)


def _after(timestamp: str) -> str:
    """The instant one millisecond after an ISO 8601 timestamp (the next page's start)."""
    moment = datetime.fromisoformat(timestamp.replace("Z", "+00:00")) + timedelta(milliseconds=1)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def dakkio_page(page: m.Json, seen: set[str]) -> tuple[list[m.Json], str | None]:
    """The points of a ``GET /api/data`` page not yielded before, and the next page's
    ``startTime`` (None when this was the last page)."""
    points = page.get("dataPoints", [])
    fresh = []
    for point in points:
        if point.get("_id") not in seen:
            seen.add(point.get("_id", ""))
            fresh.append(point)
    if not page.get("hasMore") or not points:
        return fresh, None
    return fresh, _after(points[-1]["timestamp"])


def _values(done: list[tuple[int, m.Json]]) -> list[m.Json]:
    return [answer for _, answer in done]


class BaseClient(Generic[R, P]):
    """Every single-request route of ``shared/openapi.json``, as a method named after its row
    of :data:`telemetry_client.routes.ROUTES`."""

    def __init__(
        self,
        base_url: str = DEFAULT_URL,
        api_key: str | None = None,
        *,
        timeout: float = 30.0,
        retry: RetryPolicy | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.api_key = api_key
        self.timeout = timeout
        self.retry = retry or RetryPolicy()
        self.headers = {"User-Agent": USER_AGENT, "Accept": "application/json", **(headers or {})}

    # --- plumbing ---

    def build(
        self,
        name: str,
        path: Mapping[str, str] | None = None,
        query: Mapping[str, Any] | None = None,
        body: Any = _NOBODY,
        headers: Mapping[str, str] | None = None,
    ) -> httpx.Request:
        route = ROUTES[name]
        hdrs = dict(self.headers)
        if route.auth == "api-key" and self.api_key:
            hdrs["X-Api-Key"] = self.api_key
        hdrs.update(headers or {})
        content = None
        if body is not _NOBODY:
            content = body if isinstance(body, bytes) else orjson.dumps(body)
            hdrs["Content-Type"] = "application/json"
        params = {k: query_value(v) for k, v in (query or {}).items() if v is not None}
        return httpx.Request(
            route.method, self.base_url + route.url(**(path or {})), params=params, content=content, headers=hdrs
        )

    def _call(
        self,
        name: str,
        path: Mapping[str, str] | None = None,
        query: Mapping[str, Any] | None = None,
        body: Any = _NOBODY,
        headers: Mapping[str, str] | None = None,
    ) -> R:
        raise NotImplementedError

    def paginate(self, name: str, path: Mapping[str, str] | None = None, **query: Any) -> P:
        """Every item of a listing, page after page (``continuationToken``)."""
        raise NotImplementedError

    # --- requests split to the limits (what to send; the clients send it) ---

    def frames_plan(self, thing_id: str, frames: Sequence[m.Frame]) -> SplitPlan:
        """``POST /v2/thing/{thingId}/data`` in parts of at most 10,000 frames and 5 MiB."""
        envelope = len(dumps({"frames": []})) - 2
        chunks = split_items(
            frames,
            max_items=limits.MAX_FRAMES,
            max_bytes=limits.MAX_INGEST_BYTES,
            envelope_bytes=envelope,
            what="frame",
        )
        parts = [Part(offset, "send_frames", {"thingId": thing_id}, None, {"frames": c}) for offset, c in chunks]
        return SplitPlan(parts, lambda done: merge_ingest(_values(done)))

    def bulk_plan(self, place_id: str, things: Sequence[m.ThingCreate], *, fleet: bool) -> SplitPlan:
        """Bulk registration in parts of 100 (the route's limit); results indexed on the whole."""
        name = "create_fleet_things_bulk" if fleet else "create_site_things_bulk"
        chunks = split_items(
            things, max_items=limits.MAX_BULK_THINGS, max_bytes=limits.MAX_TEMPLATE_BYTES, envelope_bytes=0
        )
        return SplitPlan([Part(offset, name, {"placeId": place_id}, None, c) for offset, c in chunks], merge_bulk)

    def dakkio_batch_plan(self, bucket_id: str, points: Sequence[m.DakkioPoint]) -> SplitPlan:
        """``POST /api/data/batch`` in parts of at most 1,000 points and 5 MiB."""
        envelope = len(dumps({"bucketId": bucket_id, "dataPoints": []})) - 2
        chunks = split_items(
            points, max_items=limits.MAX_DAKKIO_POINTS, max_bytes=limits.MAX_INGEST_BYTES, envelope_bytes=envelope
        )
        parts = [
            Part(offset, "dakkio_ingest_batch", None, None, {"bucketId": bucket_id, "dataPoints": c})
            for offset, c in chunks
        ]
        return SplitPlan(parts, lambda done: merge_counted(_values(done), "count", "dataPoints"))

    def cloudthread_plan(self, token: str, metric_agg_func: str, data: Sequence[m.CloudthreadItem]) -> SplitPlan:
        """``POST /api/streams/ingest`` (the token in the body) in parts of at most 5,000 items and 5 MiB."""
        base = {"data_stream_token": token, "metric_agg_func": metric_agg_func}
        envelope = len(dumps({**base, "data": []})) - 2
        chunks = split_items(
            data, max_items=limits.MAX_CLOUDTHREAD_ITEMS, max_bytes=limits.MAX_INGEST_BYTES, envelope_bytes=envelope
        )
        parts = [Part(offset, "cloudthread_ingest", None, None, {**base, "data": c}) for offset, c in chunks]
        return SplitPlan(parts, lambda done: merge_counted(_values(done), "ingested", None))

    def templated_plan(
        self, name: str, path: Mapping[str, str], query: Mapping[str, Any], payload: Any, spec: m.Json | None
    ) -> SplitPlan:
        """A template route's payload, split by the template's ``recordsPointer`` beyond 1,000
        records / 1 MiB (``spec`` is None when :func:`needs_template` said no)."""
        docs = None
        if spec is not None:
            docs = split_records(
                payload,
                spec.get("recordsPointer"),
                max_records=limits.MAX_TEMPLATE_RECORDS,
                max_bytes=limits.MAX_TEMPLATE_BYTES,
            )
        if not docs:
            return SplitPlan([Part(0, name, path, query, payload)], lambda done: done[0][1], partial=False)
        return SplitPlan([Part(offset, name, path, query, doc) for offset, doc in docs], merge_reports)

    # --- metric definitions, thing types ---

    def create_metric(self, body: m.MetricCreate) -> R:
        return self._call("create_metric", body=body)

    def get_metric(self, metric_id: str) -> R:
        return self._call("get_metric", {"metricId": metric_id})

    def list_metrics(self, page_limit: int = 500) -> P:
        return self.paginate("list_metrics", pageLimit=page_limit)

    def create_thing_type(self, body: m.ThingTypeCreate) -> R:
        return self._call("create_thing_type", body=body)

    def get_thing_type(self, thing_type_id: str) -> R:
        return self._call("get_thing_type", {"thingTypeId": thing_type_id})

    def list_thing_types(self, page_limit: int = 500) -> P:
        return self.paginate("list_thing_types", pageLimit=page_limit)

    def create_thing_type_version(self, thing_type_id: str, body: m.ThingTypeVersionCreate) -> R:
        return self._call("create_thing_type_version", {"thingTypeId": thing_type_id}, body=body)

    # --- places ---

    def create_site(self, body: m.PlaceCreate) -> R:
        return self._call("create_site", body=body)

    def get_site(self, place_id: str) -> R:
        return self._call("get_site", {"placeId": place_id})

    def list_sites(self, page_limit: int = 500) -> P:
        return self.paginate("list_sites", pageLimit=page_limit)

    def create_fleet(self, body: m.PlaceCreate) -> R:
        return self._call("create_fleet", body=body)

    def get_fleet(self, place_id: str) -> R:
        return self._call("get_fleet", {"placeId": place_id})

    def list_fleets(self, page_limit: int = 500) -> P:
        return self.paginate("list_fleets", pageLimit=page_limit)

    # --- things ---

    def create_site_thing(self, place_id: str, body: m.ThingCreate) -> R:
        return self._call("create_site_thing", {"placeId": place_id}, body=body)

    def create_fleet_thing(self, place_id: str, body: m.ThingCreate) -> R:
        return self._call("create_fleet_thing", {"placeId": place_id}, body=body)

    def list_site_things(self, place_id: str, page_limit: int = 500) -> P:
        return self.paginate("list_site_things", {"placeId": place_id}, pageLimit=page_limit)

    def list_fleet_things(self, place_id: str, page_limit: int = 500) -> P:
        return self.paginate("list_fleet_things", {"placeId": place_id}, pageLimit=page_limit)

    def get_thing(self, thing_id: str) -> R:
        return self._call("get_thing", {"thingId": thing_id})

    # --- telemetry reads ---

    def latest_event(self, thing_id: str) -> R:
        return self._call("latest_event", {"thingId": thing_id})

    def history(
        self,
        thing_id: str,
        *,
        start: int | str | None = None,
        end: int | str | None = None,
        metrics: Sequence[str] | None = None,
        order: str | None = None,
        page_limit: int = 1000,
    ) -> P:
        """Every frame in ``[start, end)``, all pages."""
        return self.paginate(
            "history", {"thingId": thing_id}, start=start, end=end, metrics=metrics, order=order, pageLimit=page_limit
        )

    def aggregates(
        self,
        thing_id: str,
        *,
        interval: str,
        start: int | str | None = None,
        end: int | str | None = None,
        metrics: Sequence[str] | None = None,
        aggregation: str | None = None,
    ) -> R:
        query = {"interval": interval, "start": start, "end": end, "metrics": metrics, "aggregation": aggregation}
        return self._call("aggregates", {"thingId": thing_id}, query)

    # --- templates ---

    def create_template(self, body: m.TemplateCreate) -> R:
        return self._call("create_template", body=body)

    def get_template(self, template_id: str) -> R:
        return self._call("get_template", {"templateId": template_id})

    def list_templates(
        self, *, target: str | None = None, format: str | None = None, status: str | None = None, page_limit: int = 500
    ) -> P:
        return self.paginate("list_templates", target=target, format=format, status=status, pageLimit=page_limit)

    def update_template(self, template_id: str, body: m.TemplateUpdate) -> R:
        return self._call("update_template", {"templateId": template_id}, body=body)

    def delete_template(self, template_id: str) -> R:
        return self._call("delete_template", {"templateId": template_id})

    def list_transactions(
        self,
        *,
        type: str | None = None,
        start: int | str | None = None,
        end: int | str | None = None,
        order: str | None = None,
        page_limit: int = 1000,
    ) -> P:
        return self.paginate("list_transactions", type=type, start=start, end=end, order=order, pageLimit=page_limit)

    # --- api keys ---

    def create_api_key(self, body: m.ApiKeyCreate) -> R:
        return self._call("create_api_key", body=body)

    def get_api_key(self, key_id: str) -> R:
        return self._call("get_api_key", {"keyId": key_id})

    def list_api_keys(self, page_limit: int = 500) -> P:
        return self.paginate("list_api_keys", pageLimit=page_limit)

    def revoke_api_key(self, key_id: str) -> R:
        return self._call("revoke_api_key", {"keyId": key_id})

    # --- integrations ---

    def create_integration(self, body: m.IntegrationIn) -> R:
        return self._call("create_integration", body=body)

    def get_integration(self, integration_id: str) -> R:
        return self._call("get_integration", {"integrationId": integration_id})

    def list_integrations(self, page_limit: int = 100) -> P:
        return self.paginate("list_integrations", pageLimit=page_limit)

    def replace_integration(self, integration_id: str, body: m.IntegrationIn) -> R:
        return self._call("replace_integration", {"integrationId": integration_id}, body=body)

    def delete_integration(self, integration_id: str) -> R:
        return self._call("delete_integration", {"integrationId": integration_id})

    def start_integration_run(self, integration_id: str) -> R:
        return self._call("start_integration_run", {"integrationId": integration_id})

    def list_integration_runs(self, integration_id: str, page_limit: int = 20) -> P:
        return self.paginate("list_integration_runs", {"integrationId": integration_id}, pageLimit=page_limit)

    def send_integration_webhook(self, integration_id: str, body: Any) -> R:
        """What a provider sends; the signature headers are the caller's (docs/integrations.md)."""
        return self._call("send_integration_webhook", {"integrationId": integration_id}, body=body)

    # --- dakkio: buckets and data sources, one point ---

    def create_bucket(self, body: m.BucketCreate) -> R:
        return self._call("create_bucket", body=body)

    def get_bucket(self, bucket_id: str) -> R:
        return self._call("get_bucket", {"bucketId": bucket_id})

    def list_buckets(self, page_limit: int = 500) -> P:
        return self.paginate("list_buckets", pageLimit=page_limit)

    def create_data_source(self, bucket_id: str, body: m.DataSourceCreate) -> R:
        return self._call("create_data_source", {"bucketId": bucket_id}, body=body)

    def list_data_sources(self, bucket_id: str, page_limit: int = 500) -> P:
        return self.paginate("list_data_sources", {"bucketId": bucket_id}, pageLimit=page_limit)

    def dakkio_ingest(self, bucket_id: str, point: m.DakkioPoint) -> R:
        """``POST /api/data``: one point (201 echo). The platform key is the dialect's X-API-Key."""
        return self._call("dakkio_ingest", body={"bucketId": bucket_id, **point})

    def dakkio_query(
        self,
        bucket_id: str,
        *,
        data_source_id: str | None = None,
        start_time: str | None = None,
        end_time: str | None = None,
        limit: int | None = None,
        order: str | None = None,
    ) -> R:
        """``GET /api/data``: one page (see :meth:`iter_dakkio_points` for all of them)."""
        query = {
            "bucketId": bucket_id,
            "dataSourceId": data_source_id,
            "startTime": start_time,
            "endTime": end_time,
            "limit": limit,
            "order": order,
        }
        return self._call("dakkio_query", query=query)

    # --- cloudthread: data stream tokens and their metrics ---

    def create_data_stream(self, body: m.DataStreamCreate) -> R:
        return self._call("create_data_stream", body=body)

    def list_data_streams(self, page_limit: int = 500) -> P:
        return self.paginate("list_data_streams", pageLimit=page_limit)

    def revoke_data_stream(self, stream_id: str) -> R:
        return self._call("revoke_data_stream", {"streamId": stream_id})

    def list_stream_metrics(self) -> R:
        return self._call("list_stream_metrics")

    def query_stream_metric(
        self,
        metric_name: str,
        *,
        agg: str | None = None,
        granularity: str | None = None,
        start: str | int | None = None,
        end: str | int | None = None,
        group_by: Sequence[str] | None = None,
        filters: Mapping[str, Sequence[str]] | None = None,
    ) -> R:
        """``filters``: dimension -> accepted values, sent as ``filter[<dim>]=<value>`` (repeated
        for OR; several dimensions AND)."""
        query: dict[str, Any] = {
            "agg": agg,
            "granularity": granularity,
            "start": start,
            "end": end,
            "groupBy": group_by,
        }
        for dim, values in (filters or {}).items():
            query[f"filter[{dim}]"] = _Repeated(values)
        return self._call("query_stream_metric", {"metricName": metric_name}, query)

    # --- ambiquality: buildings, rooms, sensors, measurements ---

    def create_building(self, body: m.BuildingCreate) -> R:
        return self._call("create_building", body=body)

    def get_building(self, building_id: str) -> R:
        return self._call("get_building", {"buildingId": building_id})

    def list_buildings(self, page_limit: int = 500) -> P:
        return self.paginate("list_buildings", pageLimit=page_limit)

    def create_room(self, building_id: str, body: m.RoomCreate) -> R:
        return self._call("create_room", {"buildingId": building_id}, body=body)

    def list_rooms(self, building_id: str, page_limit: int = 500) -> P:
        return self.paginate("list_rooms", {"buildingId": building_id}, pageLimit=page_limit)

    def get_room(self, room_id: str) -> R:
        return self._call("get_room", {"roomId": room_id})

    def create_sensor(self, room_id: str, body: m.SensorCreate) -> R:
        """201 with the sensor and its secret ``key`` (shown once)."""
        return self._call("create_sensor", {"roomId": room_id}, body=body)

    def list_sensors(self, room_id: str, page_limit: int = 500) -> P:
        return self.paginate("list_sensors", {"roomId": room_id}, pageLimit=page_limit)

    def get_sensor(self, sensor_id: str) -> R:
        return self._call("get_sensor", {"sensorId": sensor_id})

    def update_sensor(self, sensor_id: str, body: m.SensorUpdate) -> R:
        return self._call("update_sensor", {"sensorId": sensor_id}, body=body)

    def rotate_sensor_key(self, sensor_id: str) -> R:
        return self._call("rotate_sensor_key", {"sensorId": sensor_id})

    def send_measurements(self, sensor_key: str, sensor_id: str, readings: Sequence[m.AmbiqualityReading]) -> R:
        """``POST /ingestion/v1/measurements`` (202). Never split: the batch is all-or-nothing and
        the sensor may send one batch per interval (a 429's ``Retry-After`` is honoured)."""
        return self._call(
            "send_measurements",
            body={"sensorId": sensor_id, "readings": list(readings)},
            headers={"X-Sensor-Key": sensor_key},
        )

    def list_parameters(self) -> R:
        return self._call("list_parameters")
