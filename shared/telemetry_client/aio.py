"""The asynchronous client: the same routes, splitting and retries as :class:`Client`."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from typing import Any

import httpx

from . import models as m
from ._core import (
    _NOBODY,
    RETRYABLE_TRANSPORT_ERRORS,
    BaseClient,
    RetryPolicy,
    SplitPlan,
    dakkio_page,
    needs_template,
    parse,
    retry_wait,
)
from .errors import ApiError
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
        """Send with retries on 429/503 and on connections that never opened."""
        attempt = 0
        while True:
            try:
                response = await self._http.send(request)
            except RETRYABLE_TRANSPORT_ERRORS:
                if (wait := retry_wait(self.retry, attempt, None)) is None:
                    raise
            else:
                if (wait := retry_wait(self.retry, attempt, response)) is None:
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

    async def _run(self, plan: SplitPlan) -> m.Json:
        """Send the parts in order; a refused part raises, marked with what was sent before it."""
        done: list[tuple[int, m.Json]] = []
        for part in plan.parts:
            try:
                done.append((part.offset, await self._call(part.name, part.path, part.query, part.body)))
            except ApiError as error:
                raise plan.failed(error, part, done) from None
        return plan.merge(done)

    async def send_frames(self, thing_id: str, frames: Sequence[m.Frame]) -> m.Json:
        return await self._run(self.frames_plan(thing_id, frames))

    async def create_things_bulk(
        self, place_id: str, things: Sequence[m.ThingCreate], *, fleet: bool = False
    ) -> m.Json:
        return await self._run(self.bulk_plan(place_id, things, fleet=fleet))

    async def dakkio_ingest_batch(self, bucket_id: str, points: Sequence[m.DakkioPoint]) -> m.Json:
        return await self._run(self.dakkio_batch_plan(bucket_id, points))

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
        next_start: str | None = start_time
        while True:
            page = await self.dakkio_query(
                bucket_id,
                data_source_id=data_source_id,
                start_time=next_start,
                end_time=end_time,
                limit=limit,
                order="asc",
            )
            fresh, next_start = dakkio_page(page, seen)
            for point in fresh:
                yield point
            if next_start is None:
                return

    async def cloudthread_ingest(self, token: str, metric_agg_func: str, data: Sequence[m.CloudthreadItem]) -> m.Json:
        return await self._run(self.cloudthread_plan(token, metric_agg_func, data))

    async def _templated(
        self, name: str, template_id: str, payload: Any, path: dict[str, str], query: m.Json
    ) -> m.Json:
        spec = (await self.get_template(template_id)).get("spec", {}) if needs_template(payload) else None
        return await self._run(self.templated_plan(name, path, query, payload, spec))

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
