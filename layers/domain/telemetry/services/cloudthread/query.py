"""Reading stream metrics back: ``GET /v2/data-streams/metrics/{metricName}`` (docs/cloudthread.md).

The series of a metric are found through the series index (written at ingest); each series'
hourly rows are read from the ReadingStore and combined, per output bucket (hour or day) and
group (``groupBy`` dimensions), with the metric's aggregation function:

* Sum -> the sum of the hourly values;
* Average -> the plain mean of the hourly values (each stored value already is an average of
  an unknown number of samples, so no weighting is possible);
* Maximum / Minimum -> the max / min of the hourly values.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from telemetry.clock import datetime_from_ms, now_ms
from telemetry.errors import FieldError, ValidationFailed
from telemetry.models.auth import Principal
from telemetry.models.cloudthread import AggFunc, StreamGroup, StreamMetricAnswer, StreamPoint, StreamSeries
from telemetry.models.readings import SeriesKind
from telemetry.ports.readings import ReadingStore
from telemetry.repositories.streams import StreamRepository
from telemetry.services.auth import require, require_unfiltered
from telemetry.services.cloudthread.ingest import HOUR_MS, VALUE_MEASURE
from telemetry.services.queries import QUERY_MIN_MS, parse_time

DAY_MS = 24 * HOUR_MS
DEFAULT_WINDOW_MS = 7 * DAY_MS
MAX_WINDOW_MS = 400 * DAY_MS
MAX_SERIES = 1000


def _fmt(ms: int) -> str:
    """The document's own timestamp form: ``2022-10-01 00:00:00`` (UTC)."""
    return datetime_from_ms(ms).replace(tzinfo=None).isoformat(sep=" ", timespec="seconds")  # %Y: year 1 is "1"


def combine(agg: AggFunc, values: list[float]) -> float:
    if agg is AggFunc.Sum:
        return sum(values)
    if agg is AggFunc.Maximum:
        return max(values)
    if agg is AggFunc.Minimum:
        return min(values)
    return sum(values) / len(values)


class StreamQueries:
    def __init__(self, repo: StreamRepository, store: ReadingStore) -> None:
        self.repo = repo
        self.store = store

    def metrics(self, principal: Principal) -> dict[str, Any]:
        """Every metric name with its aggregation functions and series counts."""
        require(principal, "streams:read")
        if principal.filtered:  # stream metrics belong to the organization, to no place or thing
            return {"items": []}
        counts: dict[tuple[str, str], int] = {}
        cursor: str | None = None
        while True:
            page, cursor = self.repo.list_all_series(principal.org_id, 500, cursor)
            for s in page:
                key = (s.metricName, s.aggFunc.value)
                counts[key] = counts.get(key, 0) + 1
            if not cursor:
                break
        return {
            "items": [
                {"metricName": name, "metricAggFunc": agg, "series": n} for (name, agg), n in sorted(counts.items())
            ]
        }

    def metric(
        self,
        principal: Principal,
        metric_name: str,
        *,
        agg: str | None,
        granularity: str,
        start: str | None,
        end: str | None,
        filters: Mapping[str, list[str]],
        group_by: str | None,
    ) -> StreamMetricAnswer:
        require(principal, "streams:read")
        require_unfiltered(principal, f"metric {metric_name}")
        if granularity not in ("hourly", "daily"):
            raise ValidationFailed.single(["query", "granularity"], "must be hourly or daily")
        step = HOUR_MS if granularity == "hourly" else DAY_MS
        end_ms = parse_time("end", end, now_ms() + 1)
        start_ms = parse_time("start", start, max(end_ms - DEFAULT_WINDOW_MS, QUERY_MIN_MS))
        if start_ms >= end_ms:
            raise ValidationFailed.single(["query", "start"], "must be before end")
        if end_ms - start_ms > MAX_WINDOW_MS:
            raise ValidationFailed.single(["query", "start"], "the range may span at most 400 days")
        series = self._series(principal.org_id, metric_name, agg)
        chosen_agg = _single_agg(series, agg)
        keys = [k.strip() for k in (group_by or "").split(",") if k.strip()]
        matching = [s for s in series if s.aggFunc is chosen_agg and _matches(s.dimensions, filters)]
        if len(matching) > MAX_SERIES:
            raise ValidationFailed.single(
                ["query", "filter"], f"{len(matching)} series match; narrow the filters to at most {MAX_SERIES}"
            )
        buckets: dict[tuple[tuple[str | None, ...], int], list[float]] = {}
        for s in matching:
            group = tuple(s.dimensions.get(k) for k in keys)
            for time, value in self._rows(principal.org_id, s.seriesId, start_ms, end_ms):
                buckets.setdefault((group, time - time % step), []).append(value)
        by_group: dict[tuple[str | None, ...], list[StreamPoint]] = {}
        for (group, bucket), values in sorted(buckets.items(), key=lambda kv: (_sortable(kv[0][0]), kv[0][1])):
            by_group.setdefault(group, []).append(
                StreamPoint(timestamp=_fmt(bucket), value=combine(chosen_agg or AggFunc.Sum, values), count=len(values))
            )
        return StreamMetricAnswer(
            metric_name=metric_name,
            metric_agg_func=chosen_agg,
            granularity="hourly" if step == HOUR_MS else "daily",
            start=_fmt(start_ms),
            end=_fmt(end_ms),
            groupBy=keys,
            filter=dict(filters),
            seriesMatched=len(matching),
            groups=[
                StreamGroup(dimensions=dict(zip(keys, group, strict=True)), points=points)
                for group, points in by_group.items()
            ],
        )

    def _series(self, org_id: str, metric: str, agg: str | None) -> list[StreamSeries]:
        wanted: AggFunc | None = None
        if agg is not None:
            if agg not in AggFunc.__members__:
                raise ValidationFailed.single(["query", "agg"], "must be one of Sum, Average, Maximum, Minimum")
            wanted = AggFunc(agg)
        out: list[StreamSeries] = []
        cursor: str | None = None
        while True:
            page, cursor = self.repo.list_series(org_id, metric, wanted, 500, cursor)
            out.extend(page)
            if not cursor:
                return out

    def _rows(self, org_id: str, sid: str, start: int, end: int) -> Iterable[tuple[int, float]]:
        cursor: str | None = None
        while True:
            records, cursor = self.store.history(
                org_id, SeriesKind.STREAM, sid, start, end, measures=[VALUE_MEASURE], limit=1000, cursor=cursor
            )
            for r in records:
                measure = r.measures.get(VALUE_MEASURE)
                if measure is not None:
                    yield r.time, float(measure.value)
            if not cursor:
                return


def _single_agg(series: list[StreamSeries], agg: str | None) -> AggFunc | None:
    if agg is not None:
        return AggFunc(agg)
    found = sorted({s.aggFunc.value for s in series})
    if len(found) > 1:
        raise ValidationFailed(
            [
                FieldError(
                    ("query", "agg"),
                    f"the metric exists with several aggregation functions ({', '.join(found)}); choose one",
                )
            ]
        )
    return AggFunc(found[0]) if found else None


def _matches(dimensions: Mapping[str, str], filters: Mapping[str, list[str]]) -> bool:
    return all(dimensions.get(k) in allowed for k, allowed in filters.items())


def _sortable(group: tuple[str | None, ...]) -> tuple[tuple[int, str], ...]:
    return tuple((0, "") if g is None else (1, g) for g in group)
