"""The ReadingStore and ReadingQueue ports."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Protocol

from telemetry.models.readings import AcceptedBatch, AggregateRow, Record, RejectedRecord, SeriesKind
from telemetry.models.types import Aggregation


class ReadingStore(Protocol):
    """Where records live. Writes are idempotent per-metric upserts keyed by (org, kind, series, time).

    The row of a time is :func:`telemetry.adapters.reading_rules.merge_versions` of every version
    written for it: each measure from the highest version that carries it. Every read (latest,
    history, aggregate) sees merged rows; the result never depends on write order.
    """

    #: the largest number of records one store call accepts (DynamoDB 25, Timestream 100)
    max_batch_size: int

    def write(self, records: Sequence[Record], *, rollups: bool = True) -> list[RejectedRecord]:
        """Write records (any count; the adapter batches). Returns the ones refused, by index.

        ``latest`` then answers the merged row of the greatest time: a record older than the
        stored latest never replaces it. Raises :class:`telemetry.errors.Unavailable` when the store is down.
        ``rollups=False`` leaves the store's summaries of the touched buckets (if it keeps any)
        to a later :meth:`refresh_rollups`, so a caller writing many batches summarizes once.
        """
        ...

    def refresh_rollups(self, records: Sequence[Record]) -> None:
        """Bring the summaries of every bucket ``records`` touch up to date with what is stored.

        Idempotent (recomputed from the stored records); a store that aggregates natively does
        nothing. Raises :class:`telemetry.errors.Unavailable` when the store is down.
        """
        ...

    def latest(self, org_id: str, kind: SeriesKind, series_id: str) -> Record | None: ...

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
        """Records with ``start <= time < end``, oldest first unless ``descending``; a cursor for more."""
        ...

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
        """One row per non-empty interval aligned to epoch, each measure by its aggregation."""
        ...


class ReadingQueue(Protocol):
    """Durable acceptance. ``enqueue`` returns only once the queue has acknowledged every part."""

    def enqueue(self, batch: AcceptedBatch) -> None:
        """Raises :class:`telemetry.errors.Unavailable` if the queue refuses."""
        ...
