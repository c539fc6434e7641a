"""``GET /api/data``: the points of a bucket (optionally one data source) in a time range, in the
same shape the ingest endpoints echo. Newest first by default (``order=asc`` for oldest first).
"""

from __future__ import annotations

import hashlib
import heapq
import re
from collections.abc import Mapping
from typing import Any

from telemetry.clock import iso_from_ms, now_ms
from telemetry.errors import FieldError, ValidationFailed
from telemetry.models.auth import Principal
from telemetry.models.dakkio import (
    ANSWER_TIME,
    MAX_QUERY_LIMIT,
    POINT_ID,
    DataPoint,
    DataQueryAnswer,
    DataQueryEcho,
    DataSource,
)
from telemetry.models.readings import Record, SeriesKind
from telemetry.ports.readings import ReadingStore
from telemetry.repositories.buckets import BucketRepository
from telemetry.services.auth import require
from telemetry.services.dakkio.ingest import ISO_DATETIME, OBJECT_ID, DefinitionsCache, check_reach

_DIGITS = re.compile(r"[0-9]+", re.ASCII)

DEFAULT_LIMIT = 100
MAX_LIMIT = MAX_QUERY_LIMIT
MAX_SOURCES = 100


def _time(params: Mapping[str, str], name: str, default: int, issues: list[FieldError]) -> int:
    raw = params.get(name)
    if raw is None or raw == "":
        return default
    from telemetry.clock import ms_from_iso

    if not ISO_DATETIME.fullmatch(raw.strip()):
        issues.append(FieldError(("query", name), "Invalid datetime"))
        return default
    try:
        return ms_from_iso(raw.strip())
    except (ValueError, OverflowError):
        issues.append(FieldError(("query", name), "Invalid datetime"))
        return default


def point_from_record(record: Record, bucket_id: str, source: DataSource) -> DataPoint:
    keys = {mid: key for key, mid in source.metricIds.items()}
    point = record.measures.get(source.pointMetricId)
    extra: dict[str, Any] = point.value if point is not None and isinstance(point.value, dict) else {}
    own = extra.get("m")  # the point's metric ids: values of an earlier point at this time are not its own
    if isinstance(own, list):
        keys = {mid: key for mid, key in keys.items() if mid in own}
    values = {keys[mid]: m.value for mid, m in record.measures.items() if mid in keys}
    # The point measure is a Json metric of the data source's thing, which platform frames can
    # write too: only what has the documented shape is taken from it.
    point_id = extra.get("_id")
    metadata = extra.get("metadata")
    created = extra.get("createdAt")
    timestamp = iso_from_ms(record.time)
    return DataPoint(
        _id=point_id
        if isinstance(point_id, str) and POINT_ID.fullmatch(point_id)
        else _derived_id(source.id, record.time),
        bucketId=bucket_id,
        dataSourceId=source.id,
        timestamp=timestamp,
        values=values,
        metadata=metadata if isinstance(metadata, dict) else {},
        createdAt=created if isinstance(created, str) and ANSWER_TIME.fullmatch(created) else timestamp,
    )


def _derived_id(source_id: str, time: int) -> str:
    """A stable ObjectId for a row written without one (e.g. through the platform's frames ingest)."""
    return f"{max(0, time // 1000) & 0xFFFFFFFF:08x}" + hashlib.sha256(f"{source_id}:{time}".encode()).hexdigest()[:16]


class DataPointQueries:
    def __init__(self, repo: BucketRepository, definitions: DefinitionsCache, store: ReadingStore) -> None:
        self.repo = repo
        self.definitions = definitions
        self.store = store

    def query(self, principal: Principal, params: Mapping[str, str]) -> DataQueryAnswer:
        require(principal, "data:read")
        issues: list[FieldError] = []
        bucket_id = params.get("bucketId")
        if bucket_id is None:
            issues.append(FieldError(("query", "bucketId"), "Expected string, received undefined"))
        elif not OBJECT_ID.fullmatch(bucket_id):
            issues.append(FieldError(("query", "bucketId"), "Invalid ObjectId"))
        source_id = params.get("dataSourceId")
        if source_id is not None and not OBJECT_ID.fullmatch(source_id):
            issues.append(FieldError(("query", "dataSourceId"), "Invalid ObjectId"))
        end = _time(params, "endTime", now_ms() + 1, issues)
        start = _time(params, "startTime", 0, issues)
        limit = DEFAULT_LIMIT
        raw_limit = params.get("limit")
        if raw_limit is not None:
            if not _DIGITS.fullmatch(raw_limit):
                issues.append(FieldError(("query", "limit"), "Expected number, received string"))
            elif len(raw_limit) > 9 or not 1 <= int(raw_limit) <= MAX_LIMIT:  # int() of 5,000 digits raises
                issues.append(FieldError(("query", "limit"), f"Number must be between 1 and {MAX_LIMIT}"))
            else:
                limit = int(raw_limit)
        order = params.get("order", "desc")
        if order not in ("asc", "desc"):
            issues.append(FieldError(("query", "order"), "Invalid enum value. Expected 'asc' | 'desc'"))
        if not issues and start >= end:
            issues.append(FieldError(("query", "startTime"), "startTime must be before endTime"))
        if issues:
            raise ValidationFailed(issues)
        assert bucket_id is not None
        bucket_id = bucket_id.lower()
        if source_id:
            bucket, sources = self.definitions.load(principal.org_id, bucket_id, [source_id.lower()])
            chosen = list(sources.values())
            check_reach(principal, self.repo, bucket, chosen)
        else:
            bucket, _ = self.definitions.load(principal.org_id, bucket_id, [])
            check_reach(principal, self.repo, bucket, [])
            chosen, _cursor = self.repo.list_data_sources(principal.org_id, bucket_id, MAX_SOURCES, None)
            chosen = [s for s in chosen if principal.can_see_thing(s.thingId, bucket.fleetId)]
        descending = order == "desc"
        streams = []
        more = False
        for source in chosen:
            records, cursor = self.store.history(
                principal.org_id, SeriesKind.THING, source.thingId, start, end, limit=limit, descending=descending
            )
            more = more or cursor is not None
            streams.append([(r.time, i, point_from_record(r, bucket.id, source)) for i, r in enumerate(records)])
        merged = heapq.merge(*streams, key=lambda t: -t[0] if descending else t[0])
        points = [p for _, _, p in merged]
        more = more or len(points) > limit
        points = points[:limit]
        return DataQueryAnswer(
            dataPoints=points,
            count=len(points),
            hasMore=more,
            query=DataQueryEcho(
                bucketId=bucket.id,
                dataSourceId=source_id.lower() if source_id else None,
                startTime=iso_from_ms(start),
                endTime=iso_from_ms(end),
                limit=limit,
                order="desc" if descending else "asc",
            ),
        )
