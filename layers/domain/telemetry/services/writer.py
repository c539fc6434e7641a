"""The writer use case: one queue message (an :class:`AcceptedBatch`) -> the ReadingStore.

Outcomes of one message, and what the SQS handler does with each:

* every record stored (or already stored with the same or a newer version): success, the message
  is deleted. Writes are idempotent upserts, so a redelivered message changes nothing.
* the store is down (:class:`telemetry.errors.Unavailable`) or refused records for a transient
  reason (:class:`RetryableWriteFailure`, an ``Unavailable``): raise, the message is redelivered
  after its visibility timeout; records already written are rewritten identically.
* the body cannot be parsed: :class:`PoisonMessage`; it fails every time, so SQS moves it to the
  DLQ after maxReceiveCount, where it can be inspected and redriven after a fix.
* the store refused some records for good (out of the retention window, invalid values, over a
  size limit): those are dead-lettered *by logging them* (the handler logs each with its key and
  reason) and the message succeeds, because redelivering it could only rewrite the good records
  and fail the bad ones again. Only when EVERY record of the message was refused for good is
  there nothing sensible left to do: :class:`PoisonMessage`, so the message body itself lands in
  the DLQ as evidence.

The whole batch goes to ``store.write`` in one call: the adapter splits it into calls of
``store.max_batch_size`` records (the port's contract), and seeing the whole batch lets it move
each series' latest record once per message instead of once per chunk.

No boto3 here: the store is injected.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from telemetry.errors import DomainError, Unavailable
from telemetry.models.readings import AcceptedBatch, RejectedRecord
from telemetry.ports.readings import ReadingStore


class PoisonMessage(DomainError):
    """A message no retry can ever write; SQS moves it to the DLQ after maxReceiveCount."""

    reason = "poison-message"
    title = "Poison message"


class RetryableWriteFailure(Unavailable):
    """The store refused records for a transient reason; redeliver the message."""

    reason = "write-retryable"
    title = "Records not written yet"


@dataclass(frozen=True, slots=True)
class WriteOutcome:
    batch_id: str
    written: int
    dead_lettered: list[RejectedRecord] = field(default_factory=list)
    batch: AcceptedBatch | None = None

    def dead_letter_details(self) -> list[dict[str, Any]]:
        """Log-ready descriptions of the refused records (key and reason, not the values)."""
        details = []
        for rejected in self.dead_lettered:
            entry: dict[str, Any] = {"index": rejected.index, "reason": rejected.reason}
            if self.batch is not None and 0 <= rejected.index < len(self.batch.records):
                record = self.batch.records[rejected.index]
                entry.update(
                    org=record.org_id,
                    kind=record.kind.value,
                    series=record.series_id,
                    time=record.time,
                    version=record.version,
                    measures=sorted(record.measures),
                )
            details.append(entry)
        return details


def parse_message(body: str | bytes) -> AcceptedBatch:
    """Parse a queue message body; anything unparseable is a :class:`PoisonMessage`."""
    try:
        batch = AcceptedBatch.from_bytes(body)
        if not isinstance(batch.batch_id, str) or not isinstance(batch.org_id, str) or not batch.org_id:
            raise ValueError("batch id and organization must be non-empty strings")
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise PoisonMessage(f"unparseable reading batch: {type(exc).__name__}: {exc}") from exc
    return batch


def write_batch(store: ReadingStore, batch: AcceptedBatch) -> WriteOutcome:
    """Write every record of ``batch``; see the module docstring for what raises and what is logged."""
    records = batch.records
    if not records:
        return WriteOutcome(batch.batch_id, 0, [], batch)
    rejected = store.write(records)
    retryable = [r for r in rejected if r.retryable]
    if retryable:
        raise RetryableWriteFailure(
            f"{len(retryable)} of {len(records)} records of batch {batch.batch_id} were not written yet "
            f"(first reason: {retryable[0].reason})"
        )
    dead = [r for r in rejected if not r.retryable]
    if len({r.index for r in dead}) == len(records):
        raise PoisonMessage(
            f"every record of batch {batch.batch_id} was refused by the store (first reason: {dead[0].reason})"
        )
    return WriteOutcome(batch.batch_id, len(records) - len(dead), dead, batch)


def process_sqs_record(store: ReadingStore, body: str) -> WriteOutcome:
    """The writer Lambda's per-message step: parse, then write."""
    return write_batch(store, parse_message(body))
