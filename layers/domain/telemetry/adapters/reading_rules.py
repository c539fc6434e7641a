"""The pure rules every ReadingStore adapter shares, so the DynamoDB and Timestream adapters and
the in-memory fake the service tests run against apply exactly the same semantics: which records
and measures a store accepts, projection onto a measure subset, interval and limit checks,
aggregation folding, and opaque cursors. No boto3, no pydantic: the writer imports this.
"""

from __future__ import annotations

import base64
import binascii
import math
import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import orjson

from telemetry.errors import ValidationFailed
from telemetry.models.readings import AggregateRow, Measure, Record
from telemetry.models.types import INT64_MAX, INT64_MIN, Aggregation, DataType

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
    (0 when none); First/Last are the earliest/latest value of any type.
    """
    check_interval(interval_ms)
    buckets: dict[int, list[Record]] = {}
    for record in sorted(records, key=lambda r: r.time):
        if start <= record.time < end:
            buckets.setdefault(record.time - record.time % interval_ms, []).append(record)
    rows: list[AggregateRow] = []
    for bucket_start in sorted(buckets):
        values: dict[str, Any] = {}
        non_empty = False
        for name, aggregation in aggregations.items():
            found = [r.measures[name] for r in buckets[bucket_start] if name in r.measures]
            non_empty = non_empty or bool(found)
            values[name] = _fold(aggregation, found)
        if non_empty:
            rows.append(AggregateRow(start=bucket_start, values=values))
    return rows


def _fold(aggregation: Aggregation, measures: list[Measure]) -> Any:
    if aggregation is Aggregation.Count:
        return len(measures)
    if aggregation is Aggregation.First:
        return measures[0].value if measures else None
    if aggregation is Aggregation.Last:
        return measures[-1].value if measures else None
    numbers = [m.value for m in measures if m.type in NUMERIC_TYPES and not isinstance(m.value, bool)]
    if not numbers:
        return None
    if aggregation is Aggregation.Sum:
        return sum(numbers)
    if aggregation is Aggregation.Avg:
        return sum(numbers) / len(numbers)
    if aggregation is Aggregation.Min:
        return min(numbers)
    if aggregation is Aggregation.Max:
        return max(numbers)
    raise ValueError(f"unknown aggregation {aggregation!r}")


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
