"""``POST /api/streams/ingest``: authenticate the body token, validate every item, index new series,
and durably enqueue ONE accepted batch of stream rows. All or nothing: one invalid item and nothing
is ingested.
"""

from __future__ import annotations

import hashlib
import math
import re
import threading
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson

from telemetry.body import load_object
from telemetry.clock import iso_from_ms, latest_accepted_ms, now_ms
from telemetry.errors import FieldError, PayloadTooLarge, ValidationFailed
from telemetry.limits import INGEST_MAX_BODY_BYTES
from telemetry.models.cloudthread import AggFunc, StreamSeries
from telemetry.models.metrics import DataType, number_from_text
from telemetry.models.readings import AcceptedBatch, SeriesKind, SeriesRows
from telemetry.ports.readings import ReadingQueue
from telemetry.repositories.streams import StreamRepository
from telemetry.services.cloudthread.tokens import StreamTokenService
from telemetry.services.ingest import accept_version, new_batch_id

MAX_BODY_BYTES = INGEST_MAX_BODY_BYTES
MAX_ITEMS = 5000
MAX_DIMENSIONS = 10
MAX_NAME_LENGTH = 256
MAX_DIMENSION_KEY = 128
MAX_DIMENSION_VALUE = 256
MAX_ERRORS_REPORTED = 100
#: the measure every stream row carries
VALUE_MEASURE = "value"
HOUR_MS = 3_600_000

_TIMESTAMP = re.compile(
    r"(?P<date>\d{4}-\d{2}-\d{2})"
    r"(?:[ T](?P<h>\d{2}):(?P<m>\d{2})(?::(?P<s>\d{2})(?:\.(?P<frac>\d{1,9}))?)?)?"
    r"\s*(?P<tz>Z|z|[+-]\d{2}:?\d{2})?",
    re.ASCII,
)


@dataclass(frozen=True, slots=True)
class StreamIngestResult:
    ingested: int
    series: int
    metric_agg_func: str

    def as_dict(self) -> dict[str, Any]:
        return {"ingested": self.ingested, "series": self.series, "metric_agg_func": self.metric_agg_func}


def series_id(metric_name: str, agg: AggFunc, dimensions: dict[str, str]) -> str:
    """sha256 of the canonical JSON of (metric name, aggregation, dimensions): key order does not matter."""
    canonical = orjson.dumps(
        {"metric_name": metric_name, "metric_agg_func": agg.value, "custom_dimensions": dimensions},
        option=orjson.OPT_SORT_KEYS,
    )
    return hashlib.sha256(canonical).hexdigest()


def parse_hourly(raw: Any) -> int:
    """Epoch ms of an hourly timestamp, or ValueError saying why not.

    Accepted: ``2022-10-01 00:00:00`` (the document's form), the ISO ``T`` separator, an optional
    ``Z`` or numeric offset (converted to UTC; no offset means UTC), ``2022-10-01 05:00`` and a
    bare date (midnight). Minutes, seconds or fractions other than zero are refused.
    """
    if not isinstance(raw, str):
        raise ValueError("must be a string like '2022-10-01 00:00:00'")
    match = _TIMESTAMP.fullmatch(raw.strip())
    if not match:
        raise ValueError("must look like '2022-10-01 00:00:00' (UTC, hourly granularity)")
    if (match["m"] and int(match["m"])) or (match["s"] and int(match["s"])) or (match["frac"] and int(match["frac"])):
        raise ValueError("must have hourly granularity: minutes, seconds and fractions must be zero")
    try:
        dt = datetime.fromisoformat(f"{match['date']}T{match['h'] or '00'}:00:00")
    except ValueError:
        raise ValueError("is not a valid date and time") from None
    tz = match["tz"]
    if tz and tz not in ("Z", "z"):
        sign = 1 if tz[0] == "+" else -1
        digits = tz[1:].replace(":", "")
        try:
            dt -= sign * timedelta(hours=int(digits[:2]), minutes=int(digits[2:]))
        except OverflowError:
            raise ValueError("is outside the years 1-9999 in UTC") from None
    ms = int(dt.replace(tzinfo=UTC).timestamp() * 1000)
    if ms % HOUR_MS:
        raise ValueError("must fall on a whole hour in UTC")
    return ms


def parse_value(raw: Any) -> float:
    if isinstance(raw, bool) or raw is None or isinstance(raw, dict | list):
        raise ValueError("must be a number or a numeric string")
    try:
        value = float(number_from_text(raw) if isinstance(raw, str) else raw)
    except (TypeError, ValueError, OverflowError):  # CoercionError is a ValueError
        raise ValueError(f"must be a number or a numeric string (JSON syntax), got {str(raw)[:64]!r}") from None
    if not math.isfinite(value):
        raise ValueError("must be finite (no NaN or Infinity)")
    return value


def _dimensions(raw: Any, path: tuple[str | int, ...], errors: list[FieldError]) -> dict[str, str] | None:
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        errors.append(FieldError(path, "must be an object of string keys to string values"))
        return None
    if len(raw) > MAX_DIMENSIONS:
        errors.append(FieldError(path, f"has {len(raw)} pairs; at most {MAX_DIMENSIONS} are allowed"))
        return None
    out: dict[str, str] = {}
    ok = True
    for key, value in raw.items():
        if not key or len(key) > MAX_DIMENSION_KEY:
            errors.append(FieldError((*path, key), f"keys must be 1 to {MAX_DIMENSION_KEY} characters"))
            ok = False
        elif isinstance(value, str):
            if len(value) > MAX_DIMENSION_VALUE:
                errors.append(FieldError((*path, key), f"values must be at most {MAX_DIMENSION_VALUE} characters"))
                ok = False
            out[key] = value
        elif isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value):
            out[key] = str(value)  # a number is taken as its text, as a string-typed map would
        else:
            errors.append(FieldError((*path, key), "must be a string"))
            ok = False
    return out if ok else None


class StreamIngest:
    def __init__(self, tokens: StreamTokenService, repo: StreamRepository, queue: ReadingQueue) -> None:
        self.tokens = tokens
        self.repo = repo
        self.queue = queue
        #: (org, series id) already indexed by this container: skips the idempotent put
        self._indexed: set[tuple[str, str]] = set()
        self._lock = threading.Lock()

    def ingest(self, body: bytes | str) -> StreamIngestResult:
        doc = load_object(body, MAX_BODY_BYTES)
        stream = self.tokens.authenticate(doc.get("data_stream_token"))
        org_id = stream.orgId
        agg, items = _envelope(doc)
        version = accept_version()
        groups: dict[str, SeriesRows] = {}
        new_series: dict[str, StreamSeries] = {}
        errors: list[FieldError] = []
        max_ms = latest_accepted_ms()
        first_seen = iso_from_ms(now_ms())
        for i, item in enumerate(items):
            parsed = _item(i, item, max_ms, errors)
            if parsed is None:
                if len(errors) >= MAX_ERRORS_REPORTED:
                    break
                continue
            ts, name, value, dims = parsed
            sid = series_id(name, agg, dims)
            group = groups.get(sid)
            if group is None:
                group = SeriesRows(SeriesKind.STREAM, sid, version, {VALUE_MEASURE: DataType.Double}, [], dims)
                groups[sid] = group
                if (org_id, sid) not in self._indexed:
                    new_series[sid] = StreamSeries(
                        seriesId=sid, metricName=name, aggFunc=agg, dimensions=dims, firstSeen=first_seen
                    )
            group.rows.append((ts, {VALUE_MEASURE: value}))
        if errors:
            first = errors[0]
            more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
            raise ValidationFailed(
                errors[:MAX_ERRORS_REPORTED],
                detail=f"{'/'.join(map(str, first.path))}: {first.message}{more}; nothing was ingested",
            )
        for group in groups.values():
            group.rows = _last_wins(group.rows)
        if new_series:
            self.repo.put_series(org_id, list(new_series.values()))
            with self._lock:
                self._indexed.update((org_id, sid) for sid in new_series)
        self.queue.enqueue(AcceptedBatch(new_batch_id(), org_id, groups=list(groups.values())))
        return StreamIngestResult(ingested=len(items), series=len(groups), metric_agg_func=agg.value)


def _envelope(doc: dict[str, Any]) -> tuple[AggFunc, list[Any]]:
    errors: list[FieldError] = []
    raw_agg = doc.get("metric_agg_func")
    agg: AggFunc | None = None
    if raw_agg is None:
        errors.append(FieldError(("metric_agg_func",), "is required: one of Sum, Average, Maximum, Minimum"))
    elif not isinstance(raw_agg, str) or raw_agg not in AggFunc.__members__:
        errors.append(
            FieldError(("metric_agg_func",), f"must be one of Sum, Average, Maximum, Minimum, got {raw_agg!r}")
        )
    else:
        agg = AggFunc(raw_agg)
    items = doc.get("data")
    if not isinstance(items, list):
        errors.append(FieldError(("data",), "is required and must be an array of data points"))
    elif not items:
        errors.append(FieldError(("data",), "must contain at least one data point"))
    if errors:
        raise ValidationFailed(errors)
    assert agg is not None and isinstance(items, list)
    if len(items) > MAX_ITEMS:
        raise PayloadTooLarge(f"at most {MAX_ITEMS} data points per request; send {len(items)} in several requests")
    return agg, items


def _item(i: int, item: Any, max_ms: int, errors: list[FieldError]) -> tuple[int, str, float, dict[str, str]] | None:
    if not isinstance(item, dict):
        errors.append(FieldError(("data", i), "must be an object with timestamp, metric_name, metric_value"))
        return None
    before = len(errors)
    ts = 0
    try:
        ts = parse_hourly(item.get("timestamp"))
        if ts > max_ms:
            errors.append(FieldError(("data", i, "timestamp"), "is more than a day in the future"))
    except ValueError as exc:
        errors.append(FieldError(("data", i, "timestamp"), str(exc)))
    name = item.get("metric_name")
    if not isinstance(name, str) or not name.strip() or len(name) > MAX_NAME_LENGTH:
        errors.append(
            FieldError(
                ("data", i, "metric_name"), f"must be a non-empty string of at most {MAX_NAME_LENGTH} characters"
            )
        )
    # "mertic_value" is the spelling of the document's field list; accepted as an alias.
    field = "metric_value" if "metric_value" in item or "mertic_value" not in item else "mertic_value"
    value = 0.0
    if field not in item:
        errors.append(FieldError(("data", i, "metric_value"), "is required"))
    else:
        try:
            value = parse_value(item[field])
        except ValueError as exc:
            errors.append(FieldError(("data", i, field), str(exc)))
    dims = _dimensions(item.get("custom_dimensions"), ("data", i, "custom_dimensions"), errors)
    if len(errors) > before or dims is None:
        return None
    assert isinstance(name, str)
    return ts, name, value, dims


def _last_wins(rows: list[tuple[int, dict[str, Any]]]) -> list[tuple[int, dict[str, Any]]]:
    """One row per timestamp: a later item for the same series and hour replaces an earlier one."""
    by_time: dict[int, dict[str, Any]] = {}
    for ts, values in rows:
        by_time[ts] = values
    return sorted(by_time.items())
