"""The pure rules every ReadingStore adapter shares, so the DynamoDB and Timestream adapters and
the in-memory fake the service tests run against apply exactly the same semantics: which records
and measures a store accepts, projection onto a measure subset, interval and limit checks,
aggregation folding (bucket summaries, shared by the raw fold and the DynamoDB rollups), the
rollup plan, and opaque cursors. No boto3, no pydantic: the writer imports this.
"""

from __future__ import annotations

import base64
import binascii
import math
import re
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from fractions import Fraction
from typing import Any

import orjson

from telemetry.errors import ValidationFailed
from telemetry.models.readings import AggregateRow, Measure, Record
from telemetry.models.types import EMPTY_STRING, INT64_MAX, INT64_MIN, Aggregation, DataType

#: Record times are epoch milliseconds in [0, MAX_TIME]: 15 digits, so they sort as zero-padded text.
MAX_TIME = 10**15 - 1
NUMERIC_TYPES = frozenset({DataType.Double, DataType.Int})

SeriesKey = tuple[str, str, str]


def record_problem(record: Record) -> str | None:
    """Why a store must refuse ``record`` for good (a non-retryable rejection), or ``None``."""
    if not record.org_id or not record.series_id:
        return "organization and series id must not be empty"
    if isinstance(record.time, bool) or not isinstance(record.time, int) or not 0 <= record.time <= MAX_TIME:
        return f"time {record.time!r} is outside [0, {MAX_TIME}] epoch milliseconds"
    if isinstance(record.version, bool) or not isinstance(record.version, int):
        return f"version {record.version!r} is not an integer"
    if not 0 <= record.version <= INT64_MAX:
        return f"version {record.version} is outside [0, 2^63-1]"
    if not record.measures:
        return "record has no measures"
    for name, measure in record.measures.items():
        problem = measure_problem(measure)
        if problem:
            return f"measure {name!r}: {problem}"
    return None


def measure_problem(measure: Measure) -> str | None:
    """Whether the value matches its declared type (booleans are never numbers)."""
    value, dtype = measure.value, measure.type
    if dtype is DataType.Double:
        if isinstance(value, bool) or not isinstance(value, int | float):
            return f"expected a Double, got {type(value).__name__}"
        try:
            finite = math.isfinite(float(value))
        except OverflowError:
            finite = False
        if not finite:
            return "Double must be finite"
    elif dtype is DataType.Int:
        if isinstance(value, bool) or not isinstance(value, int):
            return f"expected an Int, got {type(value).__name__}"
        if not INT64_MIN <= value <= INT64_MAX:
            return "Int out of 64-bit range"
    elif dtype is DataType.Bool:
        if not isinstance(value, bool):
            return f"expected a Bool, got {type(value).__name__}"
    elif dtype is DataType.String:
        if not isinstance(value, str):
            return f"expected a String, got {type(value).__name__}"
        if not value:
            return EMPTY_STRING
    else:
        try:
            orjson.dumps(value)
        except TypeError as exc:
            return f"Json value is not serializable: {exc}"
    return None


def merge_versions(records: Iterable[Record]) -> Record:
    """The row a series shows at one time: per-metric upsert over every stored version of that time.

    Each measure (and each custom dimension) takes its value from the highest version that
    carries it, so a later request replaces only the metrics it sends. The result depends only
    on the set of versions stored, never on the order they were written or redelivered in.
    The merged row's version is the highest one. ``records`` must share series and time, and
    must not be empty. Two writes with the same version and time are one accepted batch (its
    redelivery) and hold the same values.
    """
    ordered = sorted(records, key=lambda r: r.version)
    if len(ordered) == 1:
        return ordered[0]
    measures: dict[str, Measure] = {}
    dimensions: dict[str, str] = {}
    for record in ordered:
        measures.update(record.measures)
        dimensions.update(record.dimensions)
    top = ordered[-1]
    return Record(
        org_id=top.org_id,
        kind=top.kind,
        series_id=top.series_id,
        time=top.time,
        measures=measures,
        version=top.version,
        dimensions=dimensions,
    )


def project(record: Record, measures: Sequence[str] | None) -> Record | None:
    """Keep only the named measures; ``None`` when the record has none of them."""
    if measures is None:
        return record
    kept = {name: m for name, m in record.measures.items() if name in measures}
    if not kept:
        return None
    return Record(
        org_id=record.org_id,
        kind=record.kind,
        series_id=record.series_id,
        time=record.time,
        measures=kept,
        version=record.version,
        dimensions=record.dimensions,
    )


def check_interval(interval_ms: int) -> None:
    if isinstance(interval_ms, bool) or not isinstance(interval_ms, int) or interval_ms <= 0:
        raise ValidationFailed.single(["interval"], "must be a positive number of milliseconds")


def check_limit(limit: int) -> None:
    if isinstance(limit, bool) or not isinstance(limit, int) or limit < 1:
        raise ValidationFailed.single(["limit"], "must be a positive integer")


def compute_aggregates(
    records: Iterable[Record], start: int, end: int, interval_ms: int, aggregations: Mapping[str, Aggregation]
) -> list[AggregateRow]:
    """One row per interval (aligned to the epoch) holding a value of at least one requested measure.

    ``records`` must hold one record per time (versions already merged with :func:`merge_versions`). Avg/Sum/Min/Max use
    only numeric (Double/Int) values and give ``None`` when there are none; Count counts values
    (0 when none); First/Last are the earliest/latest value of any type. Sum (and so Avg) is
    exact then rounded once (:class:`Summary`), so it does not depend on the order of addition:
    the rollups of the DynamoDB store give the same figures as this fold of raw rows.
    """
    check_interval(interval_ms)
    return aggregate_rows(summarize(records, start, end, interval_ms, set(aggregations)), aggregations)


# --- summaries (one bucket of one metric) and rollups --------------------------------------

MINUTE_MS, HOUR_MS, DAY_MS = 60_000, 3_600_000, 86_400_000
#: the rollup grains of the DynamoDB store, coarsest first
ROLLUP_GRAINS = (DAY_MS, HOUR_MS, MINUTE_MS)


@dataclass(slots=True)
class Summary:
    """Everything every aggregation needs of one metric over one bucket, foldable with :meth:`add`.

    ``total`` is the exact sum of the numeric values (a Fraction: a Double is a binary fraction),
    so sums of sums equal the sum of the values whatever the grouping; it is rounded once, in
    :meth:`value`. ``all_int``: every numeric value is an int (Sum answers an int then).
    """

    count: int
    numeric: int
    total: Fraction
    all_int: bool
    low: Measure | None
    high: Measure | None
    first_time: int
    first: Measure
    last_time: int
    last: Measure

    @classmethod
    def of(cls, time: int, measure: Measure) -> Summary:
        value = measure.value
        numeric = measure.type in NUMERIC_TYPES and not isinstance(value, bool)
        return cls(
            count=1,
            numeric=1 if numeric else 0,
            total=Fraction(value) if numeric else Fraction(0),
            all_int=isinstance(value, int) if numeric else True,
            low=measure if numeric else None,
            high=measure if numeric else None,
            first_time=time,
            first=measure,
            last_time=time,
            last=measure,
        )

    def add(self, other: Summary) -> None:
        """Fold ``other`` (a disjoint set of times) into this one."""
        self.count += other.count
        self.numeric += other.numeric
        self.total += other.total
        self.all_int = self.all_int and other.all_int
        if other.low is not None and (self.low is None or other.low.value < self.low.value):
            self.low = other.low
        if other.high is not None and (self.high is None or other.high.value > self.high.value):
            self.high = other.high
        if other.first_time < self.first_time:
            self.first_time, self.first = other.first_time, other.first
        if other.last_time > self.last_time:
            self.last_time, self.last = other.last_time, other.last

    def value(self, aggregation: Aggregation) -> Any:
        if aggregation is Aggregation.Count:
            return self.count
        if aggregation is Aggregation.First:
            return self.first.value
        if aggregation is Aggregation.Last:
            return self.last.value
        if not self.numeric:
            return None
        total: int | float = int(self.total) if self.all_int else float(self.total)
        if aggregation is Aggregation.Sum:
            return total
        if aggregation is Aggregation.Avg:
            return total / self.numeric
        if aggregation is Aggregation.Min:
            return self.low.value if self.low else None
        if aggregation is Aggregation.Max:
            return self.high.value if self.high else None
        raise ValueError(f"unknown aggregation {aggregation!r}")


#: bucket start -> metric -> summary
Buckets = dict[int, dict[str, Summary]]


def fold_into(buckets: Buckets, bucket: int, summaries: Mapping[str, Summary]) -> None:
    """Add ``summaries`` (of times inside ``bucket``) to ``buckets``; the summaries are copied."""
    target = buckets.setdefault(bucket, {})
    for name, summary in summaries.items():
        if name in target:
            target[name].add(summary)
        else:
            target[name] = replace(summary)


def summarize(
    records: Iterable[Record], start: int, end: int, interval_ms: int, names: Collection[str] | None = None
) -> Buckets:
    """Summaries per interval (aligned to the epoch) and metric of merged rows with ``start <= time < end``."""
    buckets: Buckets = {}
    for record in records:
        if not start <= record.time < end:
            continue
        target = buckets.setdefault(record.time - record.time % interval_ms, {})
        for name, measure in record.measures.items():
            if names is not None and name not in names:
                continue
            one = Summary.of(record.time, measure)
            if name in target:
                target[name].add(one)
            else:
                target[name] = one
    return buckets


def aggregate_rows(buckets: Buckets, aggregations: Mapping[str, Aggregation]) -> list[AggregateRow]:
    """The rows of :func:`compute_aggregates`: a bucket appears when a requested metric has a value."""
    rows: list[AggregateRow] = []
    for bucket_start in sorted(buckets):
        summaries = buckets[bucket_start]
        if not any(name in summaries for name in aggregations):
            continue
        values = {
            name: (summaries[name].value(agg) if name in summaries else (0 if agg is Aggregation.Count else None))
            for name, agg in aggregations.items()
        }
        rows.append(AggregateRow(start=bucket_start, values=values))
    return rows


def rollup_plan(start: int, end: int, interval_ms: int) -> list[tuple[int | None, int, int]]:
    """Cover ``[start, end)`` with the coarsest rollup grains that divide ``interval_ms``.

    Returns ``(grain, lo, hi)`` segments in time order; ``grain`` ``None`` means raw rows. Each
    grain covers the whole grain-aligned middle of what the coarser ones left, so raw rows are
    read only for edges shorter than the finest grain (and none when the range is aligned).
    """
    grains = [g for g in ROLLUP_GRAINS if interval_ms % g == 0]

    def cover(lo: int, hi: int, usable: list[int]) -> list[tuple[int | None, int, int]]:
        if lo >= hi:
            return []
        if not usable:
            return [(None, lo, hi)]
        grain, finer = usable[0], usable[1:]
        first, last = -(-lo // grain) * grain, hi // grain * grain
        if first >= last:
            return cover(lo, hi, finer)
        return [*cover(lo, first, finer), (grain, first, last), *cover(last, hi, finer)]

    return cover(start, end, grains)


def encode_cursor(text: str) -> str:
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


def decode_cursor(cursor: str, pattern: re.Pattern[str]) -> str:
    """Inverse of :func:`encode_cursor`; anything that does not decode to ``pattern`` is refused."""
    try:
        text = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError):
        text = ""
    if not pattern.fullmatch(text):
        raise ValidationFailed.single(["continuationToken"], "is not a valid continuation token")
    return text
