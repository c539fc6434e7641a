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

Rollups once per invocation (:class:`InvocationWriter`): the Lambda receives up to 10 messages;
each message's records are stored as it is handled, and the summaries of every bucket they
touched are recomputed once at the end (:meth:`InvocationWriter.finish`). A recompute reads the
whole minute, so per message a dense minute cost O(n^2) reads. If that final step fails, every
message that got that far is reported failed and redelivered: storing is idempotent and the
recompute reads what is stored, so a redelivery completes the work.

No boto3 here: the store is injected.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from telemetry.errors import DomainError, Unavailable
from telemetry.models.readings import AcceptedBatch, Record, RejectedRecord
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


def write_batch(store: ReadingStore, batch: AcceptedBatch, *, rollups: bool = True) -> WriteOutcome:
    """Write every record of ``batch``; see the module docstring for what raises and what is logged.

    ``rollups=False``: the caller refreshes the summaries later (:class:`InvocationWriter`).
    """
    records = batch.records
    if not records:
        return WriteOutcome(batch.batch_id, 0, [], batch)
    rejected = store.write(records, rollups=rollups)
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


class InvocationWriter:
    """The messages of one writer invocation: stored one by one, summarized once (see the module docstring)."""

    def __init__(self, store: ReadingStore) -> None:
        self.store = store
        self._stored: list[tuple[str, list[Record]]] = []

    def write(self, message_id: str, body: str) -> WriteOutcome:
        """Store one message's records (raises like :func:`write_batch`); its rollups wait for :meth:`finish`."""
        outcome = write_batch(self.store, parse_message(body), rollups=False)
        if outcome.batch is not None and outcome.written:
            refused = {r.index for r in outcome.dead_lettered}
            self._stored.append((message_id, [r for i, r in enumerate(outcome.batch.records) if i not in refused]))
        return outcome

    def finish(self) -> list[str]:
        """Refresh the rollups of everything stored; the ids of the messages to redeliver if that fails."""
        stored, self._stored = self._stored, []
        if not stored:
            return []
        try:
            self.store.refresh_rollups([record for _, records in stored for record in records])
        except Unavailable:
            return [message_id for message_id, _ in stored]
        return []
