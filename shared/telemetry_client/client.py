"""The synchronous client."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Mapping, Sequence
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
                if (wait := retry_wait(self.retry, attempt, None)) is None:
                    raise
            else:
                if (wait := retry_wait(self.retry, attempt, response)) is None:
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

    def _run(self, plan: SplitPlan) -> m.Json:
        """Send the parts in order; a refused part raises, marked with what was sent before it."""
        done: list[tuple[int, m.Json]] = []
        for part in plan.parts:
            try:
                done.append((part.offset, self._call(part.name, part.path, part.query, part.body)))
            except ApiError as error:
                raise plan.failed(error, part, done) from None
        return plan.merge(done)

    # --- requests split to the limits ---

    def send_frames(self, thing_id: str, frames: Sequence[m.Frame]) -> m.Json:
        """``POST /v2/thing/{thingId}/data`` in as many requests as the limits need (10,000
        frames, 5 MiB). Each request is all-or-nothing; a refused part raises with ``offset`` (its
        first frame's index) and ``sent`` (the merged summary of the parts before it)."""
        return self._run(self.frames_plan(thing_id, frames))

    def create_things_bulk(self, place_id: str, things: Sequence[m.ThingCreate], *, fleet: bool = False) -> m.Json:
        """Bulk registration in parts of 100 (the route's limit); results indexed on the whole."""
        return self._run(self.bulk_plan(place_id, things, fleet=fleet))

    def dakkio_ingest_batch(self, bucket_id: str, points: Sequence[m.DakkioPoint]) -> m.Json:
        """``POST /api/data/batch`` in parts of at most 1,000 points and 5 MiB."""
        return self._run(self.dakkio_batch_plan(bucket_id, points))

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
        next_start: str | None = start_time
        while True:
            page = self.dakkio_query(
                bucket_id,
                data_source_id=data_source_id,
                start_time=next_start,
                end_time=end_time,
                limit=limit,
                order="asc",
            )
            fresh, next_start = dakkio_page(page, seen)
            yield from fresh
            if next_start is None:
                return

    def cloudthread_ingest(self, token: str, metric_agg_func: str, data: Sequence[m.CloudthreadItem]) -> m.Json:
        """``POST /api/streams/ingest`` (the token in the body) in parts of at most 5,000 items
        and 5 MiB."""
        return self._run(self.cloudthread_plan(token, metric_agg_func, data))

    def _templated(self, name: str, template_id: str, payload: Any, path: dict[str, str], query: m.Json) -> m.Json:
        spec = self.get_template(template_id).get("spec", {}) if needs_template(payload) else None
        return self._run(self.templated_plan(name, path, query, payload, spec))

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


__all__ = ["Client", "RateLimited", "ServiceUnavailable"]
