"""Reading telemetry back: latest event, history, and aggregates per interval (docs/querying-data.md)."""

from __future__ import annotations

import re
from typing import Any

from telemetry.clock import iso_from_ms, ms_from_iso, now_ms
from telemetry.errors import FieldError, ValidationFailed
from telemetry.models.auth import Principal
from telemetry.models.metrics import Aggregation, MetricDefinition
from telemetry.models.readings import Record, SeriesKind
from telemetry.models.types import name_key
from telemetry.ports.readings import ReadingStore
from telemetry.services.auth import require
from telemetry.services.thing_context import ThingContext, ThingContextResolver

MIN_INTERVAL_MS = 60_000
MAX_INTERVAL_MS = 86_400_000
MAX_BUCKETS = 10_000
DEFAULT_WINDOW_MS = 86_400_000
_UNIT_MS = {"s": 1000, "m": 60_000, "h": 3_600_000, "d": 86_400_000}
_NUMERIC_ONLY = {Aggregation.Avg, Aggregation.Sum, Aggregation.Min, Aggregation.Max}


def parse_time(name: str, raw: str | None, default: int) -> int:
    """Epoch milliseconds or ISO 8601."""
    if raw is None or raw == "":
        return default
    text = raw.strip()
    try:
        ms = int(text) if re.fullmatch(r"-?[0-9]{1,16}", text) else ms_from_iso(text)
    except ValueError:
        raise ValidationFailed.single(["query", name], "must be epoch milliseconds or an ISO 8601 time") from None
    if not QUERY_MIN_MS <= ms <= QUERY_MAX_MS:
        raise ValidationFailed.single(["query", name], "must lie in the years 1 to 9999 (UTC)")
    return ms


#: 0001-01-01T00:00:00Z .. 9999-12-31T23:59:59.999Z: what a query can name and format
QUERY_MIN_MS, QUERY_MAX_MS = -62_135_596_800_000, 253_402_300_799_999


def parse_interval(raw: str) -> int:
    match = re.fullmatch(r"(\d+)\s*([smhd])", raw.strip().lower())
    if not match:
        raise ValidationFailed.single(["query", "interval"], "must look like 1m, 15m, 1h or 1d")
    ms = int(match.group(1)) * _UNIT_MS[match.group(2)]
    if not MIN_INTERVAL_MS <= ms <= MAX_INTERVAL_MS:
        raise ValidationFailed.single(["query", "interval"], "must be between 1 minute and 1 day")
    return ms


def _range(start: str | None, end: str | None) -> tuple[int, int]:
    end_ms = parse_time("end", end, now_ms() + 1)
    start_ms = parse_time("start", start, max(end_ms - DEFAULT_WINDOW_MS, QUERY_MIN_MS))
    if start_ms >= end_ms:
        raise ValidationFailed.single(["query", "start"], "must be before end")
    return start_ms, end_ms


class ThingQueries:
    def __init__(self, contexts: ThingContextResolver, store: ReadingStore) -> None:
        self.contexts = contexts
        self.store = store

    def _context(self, principal: Principal, thing_id: str) -> ThingContext:
        require(principal, "data:read")
        return self.contexts.resolve(principal, thing_id)

    @staticmethod
    def _frame(ctx: ThingContext, record: Record, only: set[str] | None = None) -> dict[str, Any]:
        metrics = {}
        for mid, measure in record.measures.items():
            if only is not None and mid not in only:
                continue
            metric = ctx.metrics.get(mid)
            metrics[metric.name if metric else mid] = measure.value
        return {"timestamp": record.time, "time": iso_from_ms(record.time), "metrics": metrics}

    def _select(self, ctx: ThingContext, names: str | None) -> list[MetricDefinition]:
        if not names:
            return list(ctx.metrics.values())
        chosen: list[MetricDefinition] = []
        errors: list[FieldError] = []
        for raw in names.split(","):
            name = raw.split(":", 1)[0].strip()
            metric = ctx.by_name.get(name_key(name))
            if metric is None:
                errors.append(FieldError(("query", "metrics", name), "is not a metric of the thing's type"))
            elif metric not in chosen:
                chosen.append(metric)
        if errors:
            raise ValidationFailed(errors)
        return chosen

    def latest(self, principal: Principal, thing_id: str) -> dict[str, Any]:
        ctx = self._context(principal, thing_id)
        record = self.store.latest(principal.org_id, SeriesKind.THING, ctx.thing.id)
        if record is None:
            return {"thingId": ctx.thing.id, "timestamp": None, "time": None, "metrics": {}}
        return {"thingId": ctx.thing.id, **self._frame(ctx, record)}

    def history(
        self,
        principal: Principal,
        thing_id: str,
        *,
        start: str | None,
        end: str | None,
        metrics: str | None,
        limit: int,
        cursor: str | None,
        order: str = "asc",
    ) -> dict[str, Any]:
        ctx = self._context(principal, thing_id)
        start_ms, end_ms = _range(start, end)
        chosen = self._select(ctx, metrics) if metrics else None
        ids = [m.id for m in chosen] if chosen else None
        records, next_cursor = self.store.history(
            principal.org_id,
            SeriesKind.THING,
            ctx.thing.id,
            start_ms,
            end_ms,
            measures=ids,
            limit=limit,
            cursor=cursor,
            descending=order == "desc",
        )
        only = set(ids) if ids else None
        frames = [f for f in (self._frame(ctx, r, only) for r in records) if f["metrics"]]
        out: dict[str, Any] = {"thingId": ctx.thing.id, "start": start_ms, "end": end_ms, "frames": frames}
        if next_cursor:
            out["continuationToken"] = next_cursor
        return out

    def aggregates(
        self,
        principal: Principal,
        thing_id: str,
        *,
        start: str | None,
        end: str | None,
        interval: str,
        metrics: str | None,
        aggregation: str | None,
    ) -> dict[str, Any]:
        ctx = self._context(principal, thing_id)
        start_ms, end_ms = _range(start, end)
        interval_ms = parse_interval(interval)
        if (end_ms - start_ms) // interval_ms > MAX_BUCKETS:
            raise ValidationFailed.single(["query", "interval"], f"the range holds more than {MAX_BUCKETS} intervals")
        override = _aggregation(aggregation, ("query", "aggregation")) if aggregation else None
        per_metric = {}
        for raw in (metrics or "").split(","):
            if ":" in raw:
                name, agg = raw.split(":", 1)
                per_metric[name_key(name.strip())] = _aggregation(agg, ("query", "metrics", name.strip()))
        chosen = self._select(ctx, metrics)
        wanted: dict[str, Aggregation] = {}
        errors: list[FieldError] = []
        for metric in chosen:
            agg = per_metric.get(name_key(metric.name)) or override or metric.defaultAggregation
            if agg in _NUMERIC_ONLY and not metric.is_numeric:
                errors.append(
                    FieldError(("query", "metrics", metric.name), f"{agg.value} needs a numeric, non-enum metric")
                )
            wanted[metric.id] = agg
        if errors:
            raise ValidationFailed(errors)
        rows = self.store.aggregate(
            principal.org_id, SeriesKind.THING, ctx.thing.id, start_ms, end_ms, interval_ms, wanted
        )
        names = {m.id: m.name for m in chosen}
        return {
            "thingId": ctx.thing.id,
            "start": start_ms,
            "end": end_ms,
            "interval": interval.strip().lower(),
            "intervalMs": interval_ms,
            "aggregations": {names[mid]: agg.value for mid, agg in wanted.items()},
            "buckets": [
                {
                    "timestamp": row.start,
                    "time": iso_from_ms(row.start),
                    "metrics": {names[mid]: v for mid, v in row.values.items() if mid in names},
                }
                for row in rows
            ],
        }


def _aggregation(raw: str, path: tuple[str, ...]) -> Aggregation:
    for agg in Aggregation:
        if agg.value.casefold() == raw.strip().casefold():
            return agg
    raise ValidationFailed.single(path, f"must be one of {', '.join(a.value for a in Aggregation)}")
