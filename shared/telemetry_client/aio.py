"""The asynchronous client: the same routes, splitting and retries as :class:`Client`."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from typing import Any

import httpx

from . import limits
from . import models as m
from ._core import _NOBODY, RETRYABLE_TRANSPORT_ERRORS, BaseClient, RetryPolicy, attach_partial, parse
from .chunking import dumps, merge_bulk, merge_counted, merge_ingest, merge_reports, split_items, split_records
from .client import _after, _may_exceed_records
from .errors import ApiError, parse_retry_after
from .routes import ROUTES


class AsyncClient(BaseClient[Awaitable[m.Json], AsyncIterator[m.Json]]):
    """``async with AsyncClient(url, api_key) as client: await client.send_frames(...)``."""

    def __init__(
        self,
        base_url: str = "http://127.0.0.1:3000",
        api_key: str | None = None,
        *,
        timeout: float = 30.0,
        retry: RetryPolicy | None = None,
        headers: Mapping[str, str] | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        max_connections: int = 20,
    ) -> None:
        super().__init__(base_url, api_key, timeout=timeout, retry=retry, headers=headers)
        self._http = httpx.AsyncClient(
            timeout=timeout, transport=transport, limits=httpx.Limits(max_connections=max_connections)
        )
        self._sleep = sleep

    async def aclose(self) -> None:
        await self._http.aclose()

    async def __aenter__(self) -> AsyncClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def send(self, request: httpx.Request) -> httpx.Response:
        attempt = 0
        while True:
            try:
                response = await self._http.send(request)
            except RETRYABLE_TRANSPORT_ERRORS:
                wait = self.retry.delay(attempt)
                if wait is None:
                    raise
            else:
                if response.status_code not in self.retry.statuses:
                    return response
                wait = self.retry.delay(
                    attempt,
                    status=response.status_code,
                    retry_after=parse_retry_after(response.headers.get("retry-after")),
                )
                if wait is None:
                    return response
            await self._sleep(wait)
            attempt += 1

    async def _call(  # type: ignore[override]
        self,
        name: str,
        path: Mapping[str, str] | None = None,
        query: Mapping[str, Any] | None = None,
        body: Any = _NOBODY,
        headers: Mapping[str, str] | None = None,
    ) -> m.Json:
        return parse(await self.send(self.build(name, path, query, body, headers)))

    async def paginate(  # type: ignore[override]
        self, name: str, path: Mapping[str, str] | None = None, **query: Any
    ) -> AsyncIterator[m.Json]:
        key = ROUTES[name].items or "items"
        token: str | None = None
        while True:
            page = await self._call(name, path, {**query, "continuationToken": token})
            for item in page.get(key, []):
                yield item
            token = page.get("continuationToken")
            if not token:
                return

    async def send_frames(self, thing_id: str, frames: Sequence[m.Frame]) -> m.Json:
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
                summaries.append(await self._call("send_frames", {"thingId": thing_id}, body={"frames": chunk}))
            except ApiError as error:
                raise attach_partial(error, offset, merge_ingest(summaries) if summaries else None) from None
        return merge_ingest(summaries)

    async def create_things_bulk(
        self, place_id: str, things: Sequence[m.ThingCreate], *, fleet: bool = False
    ) -> m.Json:
        name = "create_fleet_things_bulk" if fleet else "create_site_things_bulk"
        parts = []
        for offset, chunk in split_items(
            things, max_items=limits.MAX_BULK_THINGS, max_bytes=limits.MAX_TEMPLATE_BYTES, envelope_bytes=0
        ):
            parts.append((offset, await self._call(name, {"placeId": place_id}, body=chunk)))
        return merge_bulk(parts)

    async def dakkio_ingest_batch(self, bucket_id: str, points: Sequence[m.DakkioPoint]) -> m.Json:
        envelope = len(dumps({"bucketId": bucket_id, "dataPoints": []})) - 2
        parts: list[m.Json] = []
        for offset, chunk in split_items(
            points, max_items=limits.MAX_DAKKIO_POINTS, max_bytes=limits.MAX_INGEST_BYTES, envelope_bytes=envelope
        ):
            try:
                parts.append(await self._call("dakkio_ingest_batch", body={"bucketId": bucket_id, "dataPoints": chunk}))
            except ApiError as error:
                raise attach_partial(
                    error, offset, merge_counted(parts, "count", "dataPoints") if parts else None
                ) from None
        return merge_counted(parts, "count", "dataPoints")

    async def iter_dakkio_points(
        self,
        bucket_id: str,
        *,
        data_source_id: str | None = None,
        start_time: str | None = None,
        end_time: str | None = None,
        limit: int = 1000,
    ) -> AsyncIterator[m.Json]:
        seen: set[str] = set()
        while True:
            page = await self.dakkio_query(
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

    async def cloudthread_ingest(self, token: str, metric_agg_func: str, data: Sequence[m.CloudthreadItem]) -> m.Json:
        base = {"data_stream_token": token, "metric_agg_func": metric_agg_func}
        envelope = len(dumps({**base, "data": []})) - 2
        parts: list[m.Json] = []
        for offset, chunk in split_items(
            data, max_items=limits.MAX_CLOUDTHREAD_ITEMS, max_bytes=limits.MAX_INGEST_BYTES, envelope_bytes=envelope
        ):
            try:
                parts.append(await self._call("cloudthread_ingest", body={**base, "data": chunk}))
            except ApiError as error:
                raise attach_partial(error, offset, merge_counted(parts, "ingested", None) if parts else None) from None
        return merge_counted(parts, "ingested", None)

    async def _templated(
        self, name: str, template_id: str, payload: Any, path: dict[str, str], query: m.Json
    ) -> m.Json:
        parts = None
        if len(dumps(payload)) > limits.MAX_TEMPLATE_BYTES or _may_exceed_records(payload):
            spec = (await self.get_template(template_id)).get("spec", {})
            parts = split_records(
                payload,
                spec.get("recordsPointer"),
                max_records=limits.MAX_TEMPLATE_RECORDS,
                max_bytes=limits.MAX_TEMPLATE_BYTES,
            )
        if not parts:
            return await self._call(name, path, query, body=payload)
        reports = []
        for offset, doc in parts:
            try:
                reports.append((offset, await self._call(name, path, query, body=doc)))
            except ApiError as error:
                raise attach_partial(error, offset, merge_reports(reports) if reports else None) from None
        return merge_reports(reports)

    async def test_template(self, template_id: str, payload: Any) -> m.Json:
        return await self._templated("test_template", template_id, payload, {"templateId": template_id}, {})

    async def apply_template(
        self, thing_id: str, template_id: str, payload: Any, *, preview_only: bool = False
    ) -> m.Json:
        path = {"thingId": thing_id, "templateId": template_id}
        return await self._templated("apply_template", template_id, payload, path, {"previewOnly": preview_only})

    async def apply_transactions(self, template_id: str, payload: Any, *, preview_only: bool = False) -> m.Json:
        path = {"templateId": template_id}
        return await self._templated("apply_transactions", template_id, payload, path, {"previewOnly": preview_only})
