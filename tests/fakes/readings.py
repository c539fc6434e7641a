"""In-memory ReadingStore and ReadingQueue, and the pure rules every reading store shares.

The in-memory store is the reference semantics of :class:`telemetry.ports.readings.ReadingStore`:
per-metric upsert by (org, kind, series, time): every version of a time is kept, and the row is
their merge (:func:`~telemetry.adapters.reading_rules.merge_versions`: each measure from the
highest version that carries it), so a higher version replaces only the measures it sends, an
equal version changes nothing (idempotent redelivery) and a lower version never overwrites; the
latest row is the merged row of the greatest time; half-open time ranges; aggregates over
intervals aligned to the epoch.

The rules it shares with the real adapters (which records a store accepts, projection,
aggregation, cursors) live in :mod:`telemetry.adapters.reading_rules`.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence

#: Record times are epoch milliseconds in [0, MAX_TIME]: 15 digits, so they sort as zero-padded text.
from telemetry.adapters.reading_rules import (
    SeriesKey,
    check_limit,
    compute_aggregates,
    decode_cursor,
    encode_cursor,
    merge_versions,
    project,
    record_problem,
)
from telemetry.errors import Unavailable
from telemetry.models.readings import AcceptedBatch, AggregateRow, Record, RejectedRecord, SeriesKind
from telemetry.models.types import Aggregation

_MEMORY_CURSOR = re.compile(r"T#\d{15}")


class InMemoryReadingStore:
    """A dict-backed ReadingStore with the same semantics as the DynamoDB adapter.

    ``calls`` counts ``write`` store calls as the DynamoDB adapter would make them (one per
    ``max_batch_size`` records). Test hooks: ``reject`` returns a :class:`RejectedRecord`-style
    ``(reason, retryable)`` for records the store should refuse; ``fail_with`` makes every call
    raise (an outage).
    """

    def __init__(
        self,
        max_batch_size: int = 25,
        reject: Callable[[Record], tuple[str, bool] | None] | None = None,
    ) -> None:
        self.max_batch_size = max_batch_size
        self.reject = reject
        self.fail_with: Exception | None = None
        self.calls = 0
        #: how many times ``refresh_rollups`` ran (the writer calls it once per invocation)
        self.rollup_refreshes = 0
        #: series -> time -> version -> record, as the DynamoDB adapter keeps one item per (time, version)
        self._rows: dict[SeriesKey, dict[int, dict[int, Record]]] = {}

    def _check_up(self) -> None:
        if self.fail_with is not None:
            raise self.fail_with

    def write(self, records: Sequence[Record], *, rollups: bool = True) -> list[RejectedRecord]:
        """``rollups`` changes nothing here: this store aggregates from its rows on every read."""
        self._check_up()
        self.calls += -(-len(records) // self.max_batch_size)
        rejected: list[RejectedRecord] = []
        for index, record in enumerate(records):
            problem = record_problem(record)
            if problem:
                rejected.append(RejectedRecord(index, problem, retryable=False))
                continue
            refusal = self.reject(record) if self.reject else None
            if refusal:
                rejected.append(RejectedRecord(index, refusal[0], retryable=refusal[1]))
                continue
            key: SeriesKey = (record.org_id, record.kind.value, record.series_id)
            self._rows.setdefault(key, {}).setdefault(record.time, {}).setdefault(record.version, record)
        return rejected

    def refresh_rollups(self, records: Sequence[Record]) -> None:
        self._check_up()
        self.rollup_refreshes += 1

    def _series(self, org_id: str, kind: SeriesKind, series_id: str) -> dict[int, dict[int, Record]]:
        return self._rows.get((org_id, kind.value, series_id), {})

    def latest(self, org_id: str, kind: SeriesKind, series_id: str) -> Record | None:
        self._check_up()
        series = self._series(org_id, kind, series_id)
        return merge_versions(series[max(series)].values()) if series else None

    def history(
        self,
        org_id: str,
        kind: SeriesKind,
        series_id: str,
        start: int,
        end: int,
        measures: Sequence[str] | None = None,
        limit: int = 1000,
        cursor: str | None = None,
        descending: bool = False,
    ) -> tuple[list[Record], str | None]:
        self._check_up()
        check_limit(limit)
        after = int(decode_cursor(cursor, _MEMORY_CURSOR)[2:]) if cursor else None
        series = self._series(org_id, kind, series_id)
        times = sorted((t for t in series if start <= t < end), reverse=descending)
        if after is not None:
            times = [t for t in times if (t < after if descending else t > after)]
        page: list[Record] = []
        for position, time in enumerate(times):
            record = project(merge_versions(series[time].values()), measures)
            if record is None:
                continue
            page.append(record)
            if len(page) == limit:
                more = position + 1 < len(times)
                return page, encode_cursor(f"T#{time:015d}") if more else None
        return page, None

    def aggregate(
        self,
        org_id: str,
        kind: SeriesKind,
        series_id: str,
        start: int,
        end: int,
        interval_ms: int,
        aggregations: Mapping[str, Aggregation],
    ) -> list[AggregateRow]:
        self._check_up()
        rows = (merge_versions(versions.values()) for versions in self._series(org_id, kind, series_id).values())
        return compute_aggregates(rows, start, end, interval_ms, aggregations)

    def count(self) -> int:
        """Stored rows across all series (one per series and time)."""
        return sum(len(series) for series in self._rows.values())


class InMemoryReadingQueue:
    """Records what was enqueued, after a round trip through the wire format; ``fail = True`` is an outage."""

    def __init__(self) -> None:
        self.fail = False
        self.batches: list[AcceptedBatch] = []
        self.messages: list[str] = []

    def enqueue(self, batch: AcceptedBatch) -> None:
        if self.fail:
            raise Unavailable("the reading queue is unavailable (simulated)")
        body = batch.to_bytes().decode()
        self.messages.append(body)
        self.batches.append(AcceptedBatch.from_bytes(body))
