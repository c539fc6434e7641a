"""``POST /api/data`` and ``POST /api/data/batch``: validate in the document's (zod-style) terms,
check values against the data source's schema, and durably enqueue ONE accepted batch of platform
THING rows (one series per data source). A batch is all or nothing.

Validation order, as an Express + zod service behaves: the body's shape first (every issue at
once, 400), then the bucket and data sources (404), then the values against the schemas (400).
"""

from __future__ import annotations

import math
import re
import threading
import time
from dataclasses import dataclass
from typing import Any

import orjson

from telemetry.body import load_object
from telemetry.clock import iso_from_ms, latest_accepted_ms, ms_from_iso, now_ms
from telemetry.errors import FieldError, MalformedRequest, NotFound, ValidationFailed
from telemetry.ids import new_object_id
from telemetry.limits import INGEST_MAX_BODY_BYTES
from telemetry.models.auth import Principal
from telemetry.models.dakkio import (
    MAX_BATCH_POINTS,
    Bucket,
    DataBatchAnswer,
    DataPoint,
    DataPointAnswer,
    DataSource,
    ValueType,
)
from telemetry.models.metrics import CoercionError, DataType, int64
from telemetry.models.readings import AcceptedBatch, SeriesKind, SeriesRows
from telemetry.ports.readings import ReadingQueue
from telemetry.repositories.buckets import BucketRepository
from telemetry.services.auth import require
from telemetry.services.ingest import accept_version, new_batch_id

MAX_BODY_BYTES = INGEST_MAX_BODY_BYTES
MAX_BATCH = MAX_BATCH_POINTS
MAX_METADATA_BYTES = 16 * 1024
MAX_ISSUES = 100
OBJECT_ID = re.compile(r"[0-9a-fA-F]{24}")
ISO_DATETIME = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|z|[+-]\d{2}:?\d{2})?")

Path = tuple[str | int, ...]


def received(value: Any) -> str:
    """zod's name for the type of a JSON value."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object"


def expected(path: Path, kind: str, value: Any) -> FieldError:
    return FieldError(path, f"Expected {kind}, received {received(value)}")


_MISSING = object()


def _get(doc: dict[str, Any], key: str) -> Any:
    return doc.get(key, _MISSING)


def _object_id(doc: dict[str, Any], key: str, path: Path, issues: list[FieldError]) -> str | None:
    value = _get(doc, key)
    if value is _MISSING or not isinstance(value, str):
        issues.append(
            FieldError(path, f"Expected string, received {'undefined' if value is _MISSING else received(value)}")
        )
        return None
    if not OBJECT_ID.fullmatch(value):
        issues.append(FieldError(path, "Invalid ObjectId"))
        return None
    return value.lower()


def _timestamp(doc: dict[str, Any], path: Path, issues: list[FieldError], now: int) -> int | None:
    value = _get(doc, "timestamp")
    if value is _MISSING:
        return now
    if not isinstance(value, str):
        issues.append(expected(path, "string", value))
        return None
    if not ISO_DATETIME.fullmatch(value.strip()):
        issues.append(FieldError(path, "Invalid datetime"))
        return None
    try:
        ms = ms_from_iso(value.strip())
    except (ValueError, OverflowError):
        issues.append(FieldError(path, "Invalid datetime"))
        return None
    if ms < 0:
        issues.append(FieldError(path, "Invalid datetime"))
        return None
    if ms > latest_accepted_ms(now):
        issues.append(FieldError(path, "Timestamp must not be more than 24 hours in the future"))
        return None
    return ms


@dataclass(slots=True)
class _Point:
    index: int | None
    source_id: str
    time: int
    values: dict[str, Any]
    metadata: dict[str, Any]


def _point(
    doc: Any, prefix: Path, index: int | None, issues: list[FieldError], now: int, source: bool
) -> _Point | None:
    """Shape of one point (``source``: whether it must carry ``dataSourceId``)."""
    if not isinstance(doc, dict):
        issues.append(expected(prefix, "object", doc))
        return None
    before = len(issues)
    source_id = _object_id(doc, "dataSourceId", (*prefix, "dataSourceId"), issues) if source else ""
    ts = _timestamp(doc, (*prefix, "timestamp"), issues, now)
    values = _get(doc, "values")
    if values is _MISSING or not isinstance(values, dict):
        issues.append(
            FieldError(
                (*prefix, "values"),
                f"Expected object, received {'undefined' if values is _MISSING else received(values)}",
            )
        )
    metadata = _get(doc, "metadata")
    if metadata is _MISSING or metadata is None:
        metadata = {}
    elif not isinstance(metadata, dict):
        issues.append(expected((*prefix, "metadata"), "object", metadata))
    elif len(orjson.dumps(metadata)) > MAX_METADATA_BYTES:
        issues.append(FieldError((*prefix, "metadata"), f"Metadata must be at most {MAX_METADATA_BYTES} bytes as JSON"))
    if len(issues) > before:
        return None
    assert ts is not None and source_id is not None and isinstance(values, dict) and isinstance(metadata, dict)
    return _Point(index, source_id, ts, values, metadata)


def check_values(values: dict[str, Any], source: DataSource, prefix: Path) -> tuple[dict[str, Any], list[FieldError]]:
    """Values against the schema: unknown key, wrong type, missing required. Returns (typed, issues)."""
    issues: list[FieldError] = []
    typed: dict[str, Any] = {}
    schema = source.schema_
    unknown = [k for k in values if k not in schema]
    issues.extend(FieldError((*prefix, k), f"Unrecognized key(s) in object: '{k}'") for k in unknown)
    for key, spec in schema.items():
        path = (*prefix, key)
        if key not in values:
            if spec.required:
                issues.append(FieldError(path, f"Expected {spec.type.value}, received undefined"))
            continue
        value = values[key]
        kind = spec.type
        if kind is ValueType.string:
            ok = isinstance(value, str)
        elif kind is ValueType.boolean:
            ok = isinstance(value, bool)
        elif isinstance(value, bool) or not isinstance(value, int | float):
            ok = False
        elif kind is ValueType.integer:
            if isinstance(value, float) and not value.is_integer():
                issues.append(FieldError(path, "Expected integer, received float"))
                continue
            try:
                value = int64(value)
            except CoercionError:
                issues.append(FieldError(path, "Number must be a 64-bit integer"))
                continue
            ok = True
        else:
            ok = math.isfinite(value)
        if not ok:
            issues.append(expected(path, kind.value, value))
            continue
        if value == "":  # zod's .min(1) wording; one rule for every path (models.types.EMPTY_STRING)
            issues.append(FieldError(path, "String must contain at least 1 character(s)"))
            continue
        typed[key] = value
    if not values and not issues:
        issues.append(FieldError(prefix, "Expected at least one value"))
    return typed, issues


def bucket_reachable(principal: Principal, repo: BucketRepository, bucket: Bucket) -> bool:
    """Whether a key's filters reach the bucket: its fleet is one of the key's places, or one of
    its data sources' things is one of the key's things."""
    if principal.can_see_place(bucket.fleetId):
        return True
    if not principal.thing_filter:
        return False
    cursor: str | None = None
    while True:
        page, cursor = repo.list_data_sources(principal.org_id, bucket.id, 100, cursor)
        if any(s.thingId in principal.thing_filter for s in page):
            return True
        if not cursor:
            return False


def check_reach(principal: Principal, repo: BucketRepository, bucket: Bucket, sources: list[DataSource]) -> None:
    """404 in the document's words unless the key's filters reach every data source (and so the
    bucket); a bucket the key cannot reach at all is "Bucket not found", as if it did not exist."""
    if all(principal.can_see_thing(s.thingId, bucket.fleetId) for s in sources) and (
        sources or bucket_reachable(principal, repo, bucket)
    ):
        return
    if not bucket_reachable(principal, repo, bucket):
        raise NotFound("Bucket not found")
    raise NotFound("Data source not found")


class DefinitionsCache:
    """Bucket and data sources by id, cached per warm container (they never change once created)."""

    def __init__(self, repo: BucketRepository, ttl_seconds: float) -> None:
        self.repo = repo
        self.ttl = ttl_seconds
        self._buckets: dict[tuple[str, str], tuple[float, Bucket]] = {}
        self._sources: dict[tuple[str, str, str], tuple[float, DataSource]] = {}
        self._lock = threading.Lock()

    def load(self, org: str, bucket_id: str, source_ids: list[str]) -> tuple[Bucket, dict[str, DataSource]]:
        now = time.monotonic()
        cached_bucket = self._buckets.get((org, bucket_id))
        bucket = cached_bucket[1] if cached_bucket and cached_bucket[0] > now else None
        sources: dict[str, DataSource] = {}
        missing: list[str] = []
        for sid in dict.fromkeys(source_ids):
            hit = self._sources.get((org, bucket_id, sid))
            if hit and hit[0] > now:
                sources[sid] = hit[1]
            else:
                missing.append(sid)
        if bucket is None or missing:
            found_bucket, found = self.repo.get_bucket_and_source(org, bucket_id, missing)
            if found_bucket is None:
                raise NotFound("Bucket not found")
            bucket = found_bucket
            with self._lock:
                self._buckets[(org, bucket_id)] = (now + self.ttl, bucket)
                for sid, source in found.items():
                    self._sources[(org, bucket_id, sid)] = (now + self.ttl, source)
            sources.update(found)
        if any(sid not in sources for sid in source_ids):
            raise NotFound("Data source not found")
        return bucket, sources


class DataPointIngest:
    def __init__(self, definitions: DefinitionsCache, queue: ReadingQueue) -> None:
        self.definitions = definitions
        self.queue = queue

    def ingest_one(self, principal: Principal, body: bytes | str) -> DataPointAnswer:
        require(principal, "data:write")
        doc = _load(body)
        now = now_ms()
        issues: list[FieldError] = []
        bucket_id = _object_id(doc, "bucketId", ("body", "bucketId"), issues)
        point = _point(doc, ("body",), None, issues, now, source=True)
        if issues:
            raise ValidationFailed(issues)
        assert bucket_id is not None and point is not None
        bucket, sources = self.definitions.load(principal.org_id, bucket_id, [point.source_id])
        check_reach(principal, self.definitions.repo, bucket, list(sources.values()))
        (accepted,) = self._accept(principal, bucket, sources, [point])
        return DataPointAnswer(message="Data point ingested successfully", dataPoint=accepted)

    def ingest_batch(self, principal: Principal, body: bytes | str) -> DataBatchAnswer:
        require(principal, "data:write")
        doc = _load(body)
        now = now_ms()
        issues: list[FieldError] = []
        bucket_id = _object_id(doc, "bucketId", ("body", "bucketId"), issues)
        raw_points = _get(doc, "dataPoints")
        points: list[_Point] = []
        if raw_points is _MISSING or not isinstance(raw_points, list):
            got = "undefined" if raw_points is _MISSING else received(raw_points)
            issues.append(FieldError(("body", "dataPoints"), f"Expected array, received {got}"))
        elif not raw_points:
            issues.append(FieldError(("body", "dataPoints"), "Array must contain at least 1 element(s)"))
        elif len(raw_points) > MAX_BATCH:
            issues.append(FieldError(("body", "dataPoints"), f"Array must contain at most {MAX_BATCH} element(s)"))
        else:
            for i, raw in enumerate(raw_points):
                point = _point(raw, ("body", "dataPoints", i), i, issues, now, source=True)
                if point is not None:
                    points.append(point)
                if len(issues) >= MAX_ISSUES:
                    break
        if issues:
            raise ValidationFailed(issues[:MAX_ISSUES])
        assert bucket_id is not None
        bucket, sources = self.definitions.load(principal.org_id, bucket_id, [p.source_id for p in points])
        check_reach(principal, self.definitions.repo, bucket, list(sources.values()))
        accepted = self._accept(principal, bucket, sources, points)
        return DataBatchAnswer(message="Data points ingested successfully", count=len(accepted), dataPoints=accepted)

    def _accept(
        self, principal: Principal, bucket: Bucket, sources: dict[str, DataSource], points: list[_Point]
    ) -> list[DataPoint]:
        issues: list[FieldError] = []
        typed_points: list[tuple[_Point, dict[str, Any]]] = []
        for p in points:
            prefix: Path = ("body", "values") if p.index is None else ("body", "dataPoints", p.index, "values")
            typed, found = check_values(p.values, sources[p.source_id], prefix)
            issues.extend(found)
            typed_points.append((p, typed))
        if issues:
            raise ValidationFailed(issues[:MAX_ISSUES])
        version = accept_version()
        created_ms = now_ms()
        created = iso_from_ms(created_ms)
        groups: dict[str, SeriesRows] = {}
        rows: dict[str, dict[int, dict[str, Any]]] = {}
        echoes: list[DataPoint] = []
        for p, typed in typed_points:
            source = sources[p.source_id]
            point_id = new_object_id()
            group = groups.get(source.id)
            if group is None:
                types = {source.metricIds[k]: spec.type.data_type for k, spec in source.schema_.items()}
                types[source.pointMetricId] = DataType.Json
                group = SeriesRows(SeriesKind.THING, source.thingId, version, types, [])
                groups[source.id] = group
                rows[source.id] = {}
            measures: dict[str, Any] = {
                source.metricIds[k]: float(v) if source.schema_[k].type is ValueType.number else v
                for k, v in typed.items()
            }
            # "m": the point's own metric ids. The store upserts per metric, so a later point at
            # the same time that omits a value would otherwise still show the earlier one.
            point = {"_id": point_id, "createdAt": created, "metadata": p.metadata, "m": sorted(measures)}
            measures[source.pointMetricId] = point
            rows[source.id][p.time] = measures  # same data source and time: the later point replaces
            echoes.append(
                DataPoint(
                    _id=point_id,
                    bucketId=bucket.id,
                    dataSourceId=source.id,
                    timestamp=iso_from_ms(p.time),
                    values=typed,
                    metadata=p.metadata,
                    createdAt=created,
                )
            )
        for sid, group in groups.items():
            group.rows = sorted(rows[sid].items())
        self.queue.enqueue(AcceptedBatch(new_batch_id(), principal.org_id, groups=list(groups.values())))
        return echoes


def _load(body: bytes | str) -> dict[str, Any]:
    return load_object(
        body,
        MAX_BODY_BYTES,
        malformed=lambda _: MalformedRequest("Malformed JSON in request body"),
        not_object=lambda doc: ValidationFailed([expected(("body",), "object", doc)]),
    )
