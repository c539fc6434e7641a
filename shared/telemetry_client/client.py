"""The synchronous client."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any

import httpx

from . import limits
from . import models as m
from ._core import _NOBODY, RETRYABLE_TRANSPORT_ERRORS, BaseClient, RetryPolicy, attach_partial, parse
from .chunking import dumps, merge_bulk, merge_counted, merge_ingest, merge_reports, split_items, split_records
from .errors import ApiError, RateLimited, ServiceUnavailable
from .routes import ROUTES


class Client(BaseClient[m.Json, Iterator[m.Json]]):
    """``Client(url, api_key)``: every route of the platform API and its three dialects.

    Errors are raised as :class:`~telemetry_client.errors.ApiError` subclasses; 429 and 503 are
    retried (see :class:`RetryPolicy`); requests over a server limit are split before sending.
    Thread-safe (one ``httpx.Client`` connection pool)."""

    def __init__(
        self,
        base_url: str = "http://127.0.0.1:3000",
        api_key: str | None = None,
        *,
        timeout: float = 30.0,
        retry: RetryPolicy | None = None,
        headers: Mapping[str, str] | None = None,
        transport: httpx.BaseTransport | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        super().__init__(base_url, api_key, timeout=timeout, retry=retry, headers=headers)
        self._http = httpx.Client(timeout=timeout, transport=transport)
        self._sleep = sleep

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- plumbing ---

    def send(self, request: httpx.Request) -> httpx.Response:
        """Send with retries on 429/503 and on connections that never opened."""
        attempt = 0
        while True:
            try:
                response = self._http.send(request)
            except RETRYABLE_TRANSPORT_ERRORS:
                wait = self.retry.delay(attempt)
                if wait is None:
                    raise
            else:
                if response.status_code not in self.retry.statuses:
                    return response
                from .errors import parse_retry_after

                wait = self.retry.delay(
                    attempt,
                    status=response.status_code,
                    retry_after=parse_retry_after(response.headers.get("retry-after")),
                )
                if wait is None:
                    return response
            self._sleep(wait)
            attempt += 1

    def _call(
        self,
        name: str,
        path: Mapping[str, str] | None = None,
        query: Mapping[str, Any] | None = None,
        body: Any = _NOBODY,
        headers: Mapping[str, str] | None = None,
    ) -> m.Json:
        return parse(self.send(self.build(name, path, query, body, headers)))

    def paginate(self, name: str, path: Mapping[str, str] | None = None, **query: Any) -> Iterator[m.Json]:
        key = ROUTES[name].items or "items"
        token: str | None = None
        while True:
            page = self._call(name, path, {**query, "continuationToken": token})
            yield from page.get(key, [])
            token = page.get("continuationToken")
            if not token:
                return

    # --- requests split to the limits ---

    def send_frames(self, thing_id: str, frames: Sequence[m.Frame]) -> m.Json:
        """``POST /v2/thing/{thingId}/data`` in as many requests as the limits need (10,000
        frames, 5 MiB). Each request is all-or-nothing; a refused part raises with ``offset`` (its
        first frame's index) and ``sent`` (the merged summary of the parts before it)."""
        summaries: list[m.Json] = []
        envelope = len(dumps({"frames": []})) - 2
        for offset, chunk in split_items(
            frames,
            max_items=limits.MAX_FRAMES,
            max_bytes=limits.MAX_INGEST_BYTES,
            envelope_bytes=envelope,
            what="frame",
        ):
            try:
                summaries.append(self._call("send_frames", {"thingId": thing_id}, body={"frames": chunk}))
            except ApiError as error:
                raise attach_partial(error, offset, merge_ingest(summaries) if summaries else None) from None
        return merge_ingest(summaries)

    def create_things_bulk(self, place_id: str, things: Sequence[m.ThingCreate], *, fleet: bool = False) -> m.Json:
        """Bulk registration in parts of 100 (the route's limit); results indexed on the whole."""
        name = "create_fleet_things_bulk" if fleet else "create_site_things_bulk"
        parts = []
        for offset, chunk in split_items(
            things, max_items=limits.MAX_BULK_THINGS, max_bytes=limits.MAX_TEMPLATE_BYTES, envelope_bytes=0
        ):
            parts.append((offset, self._call(name, {"placeId": place_id}, body=chunk)))
        return merge_bulk(parts)

    def dakkio_ingest_batch(self, bucket_id: str, points: Sequence[m.DakkioPoint]) -> m.Json:
        """``POST /api/data/batch`` in parts of at most 1,000 points and 5 MiB."""
        envelope = len(dumps({"bucketId": bucket_id, "dataPoints": []})) - 2
        parts: list[m.Json] = []
        for offset, chunk in split_items(
            points, max_items=limits.MAX_DAKKIO_POINTS, max_bytes=limits.MAX_INGEST_BYTES, envelope_bytes=envelope
        ):
            try:
                parts.append(self._call("dakkio_ingest_batch", body={"bucketId": bucket_id, "dataPoints": chunk}))
            except ApiError as error:
                raise attach_partial(
                    error, offset, merge_counted(parts, "count", "dataPoints") if parts else None
                ) from None
        return merge_counted(parts, "count", "dataPoints")

    def iter_dakkio_points(
        self,
        bucket_id: str,
        *,
        data_source_id: str | None = None,
        start_time: str | None = None,
        end_time: str | None = None,
        limit: int = 1000,
    ) -> Iterator[m.Json]:
        """Every point of ``GET /api/data`` oldest first, paging by moving ``startTime`` past the
        last point while ``hasMore`` (the dialect's paging, docs/dakkio.md)."""
        seen: set[str] = set()
        while True:
            page = self.dakkio_query(
                bucket_id,
                data_source_id=data_source_id,
                start_time=start_time,
                end_time=end_time,
                limit=limit,
                order="asc",
            )
            points = page.get("dataPoints", [])
            for point in points:
                if point.get("_id") not in seen:
                    seen.add(point.get("_id", ""))
                    yield point
            if not page.get("hasMore") or not points:
                return
            start_time = _after(points[-1]["timestamp"])

    def cloudthread_ingest(self, token: str, metric_agg_func: str, data: Sequence[m.CloudthreadItem]) -> m.Json:
        """``POST /api/streams/ingest`` (the token in the body) in parts of at most 5,000 items
        and 5 MiB."""
        base = {"data_stream_token": token, "metric_agg_func": metric_agg_func}
        envelope = len(dumps({**base, "data": []})) - 2
        parts: list[m.Json] = []
        for offset, chunk in split_items(
            data, max_items=limits.MAX_CLOUDTHREAD_ITEMS, max_bytes=limits.MAX_INGEST_BYTES, envelope_bytes=envelope
        ):
            try:
                parts.append(self._call("cloudthread_ingest", body={**base, "data": chunk}))
            except ApiError as error:
                raise attach_partial(error, offset, merge_counted(parts, "ingested", None) if parts else None) from None
        return merge_counted(parts, "ingested", None)

    def _templated(self, name: str, template_id: str, payload: Any, path: dict[str, str], query: m.Json) -> m.Json:
        parts = None
        if len(dumps(payload)) > limits.MAX_TEMPLATE_BYTES or _may_exceed_records(payload):
            spec = self.get_template(template_id).get("spec", {})
            parts = split_records(
                payload,
                spec.get("recordsPointer"),
                max_records=limits.MAX_TEMPLATE_RECORDS,
                max_bytes=limits.MAX_TEMPLATE_BYTES,
            )
        if not parts:
            return self._call(name, path, query, body=payload)
        reports = []
        for offset, doc in parts:
            try:
                reports.append((offset, self._call(name, path, query, body=doc)))
            except ApiError as error:
                raise attach_partial(error, offset, merge_reports(reports) if reports else None) from None
        return merge_reports(reports)

    def test_template(self, template_id: str, payload: Any) -> m.Json:
        """Dry run of a sample payload (split by ``recordsPointer`` beyond 1,000 records / 1 MiB)."""
        return self._templated("test_template", template_id, payload, {"templateId": template_id}, {})

    def apply_template(self, thing_id: str, template_id: str, payload: Any, *, preview_only: bool = False) -> m.Json:
        """Map a raw payload onto a thing's readings (split like :meth:`test_template`)."""
        path = {"thingId": thing_id, "templateId": template_id}
        return self._templated("apply_template", template_id, payload, path, {"previewOnly": preview_only})

    def apply_transactions(self, template_id: str, payload: Any, *, preview_only: bool = False) -> m.Json:
        path = {"templateId": template_id}
        return self._templated("apply_transactions", template_id, payload, path, {"previewOnly": preview_only})


def _may_exceed_records(payload: Any, limit: int = limits.MAX_TEMPLATE_RECORDS) -> bool:
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


def _after(timestamp: str) -> str:
    """The instant one millisecond after an ISO 8601 timestamp (the next page's start)."""
    from datetime import datetime, timedelta

    moment = datetime.fromisoformat(timestamp.replace("Z", "+00:00")) + timedelta(milliseconds=1)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


__all__ = ["Client", "RateLimited", "ServiceUnavailable"]
