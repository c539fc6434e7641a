"""ReadingQueue on SQS: one SendMessage per accepted batch.

A batch whose body exceeds ``max_message_bytes`` (256 KiB by default: the classic SQS limit,
portable to every SQS-compatible queue; AWS now allows 1 MiB) is split into parts packed greedily
in record order. Each part is a complete :class:`AcceptedBatch` with the batch id ``{id}.{n}``
(n from 1), so the writer needs no reassembly. A single reading that does not fit on its own
raises :class:`telemetry.errors.PayloadTooLarge`.

Durability caveat of split batches: parts are sent one by one and SQS has no atomic multi-message
send (SendMessageBatch, up to 10 entries, reports success per entry and is not all-or-nothing
either; and with 256 KiB parts it could carry only one part anyway, since the limit applies to
the whole batch request). If part 2 fails after part 1 was acknowledged, ``enqueue`` raises
Unavailable (the API answers 503), yet part 1 is already durable and will be written. That is
accepted because of the record model: a client that retries resends the same readings, which
are accepted with a new, higher version and upsert the same (series, time) rows, so nothing is
duplicated. The one visible effect: a client that does NOT retry after a 503 may still find the
first part's readings stored. Preventing that would need a staging area and a commit marker
(e.g. parts in S3 and one message pointing at them); splits are rare enough not to pay for it.

Failures (ClientError, connection errors, botocore retries exhausted) become
:class:`telemetry.errors.Unavailable`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import orjson

from telemetry.adapters.aws_clients import CLIENT_LOCK, aws_client
from telemetry.errors import PayloadTooLarge, Unavailable
from telemetry.models.readings import AcceptedBatch, SeriesRows

if TYPE_CHECKING:
    from mypy_boto3_sqs import SQSClient

DEFAULT_MAX_MESSAGE_BYTES = 256 * 1024


def _group_bytes(group: SeriesRows) -> int:
    """Size of a group's JSON with no rows, plus one separating comma."""
    empty = SeriesRows(group.kind, group.series_id, group.version, group.types, [], group.dimensions)
    return len(AcceptedBatch("", "", groups=[empty]).to_bytes()) - len(AcceptedBatch("", "").to_bytes()) + 1


def split_batch(batch: AcceptedBatch, max_bytes: int) -> list[AcceptedBatch]:
    """The batch itself if its body fits, else parts ``{id}.1``, ``{id}.2``... that each fit.

    Rows are packed greedily in order; a series' rows may continue in the next part under a copy
    of the series header. Sizes come from orjson (compact, deterministic) and count one comma per
    group and per row, so the estimate can only exceed the real body size, by a few bytes.
    """
    if len(batch.to_bytes()) <= max_bytes:
        return [batch]
    return _parts(batch, max_bytes)


def message_bodies(batch: AcceptedBatch, max_bytes: int) -> list[bytes]:
    """The message bodies of :func:`split_batch`'s parts. A batch that fits is serialized once:
    the body measured is the body sent (serializing it again was 8 % of an ingest request)."""
    body = batch.to_bytes()
    if len(body) <= max_bytes:
        return [body]
    return [part.to_bytes() for part in split_batch(batch, max_bytes)]  # rare: the whole body once more


def _parts(batch: AcceptedBatch, max_bytes: int) -> list[AcceptedBatch]:
    envelope = len(AcceptedBatch(f"{batch.batch_id}.{len(batch)}", batch.org_id).to_bytes())
    parts: list[list[SeriesRows]] = []
    current: list[SeriesRows] = []
    size = envelope
    for group in batch.groups:
        header = _group_bytes(group)
        open_group: SeriesRows | None = None
        for row in group.rows:
            row_size = len(orjson.dumps(row)) + 1
            if envelope + header + row_size > max_bytes:
                raise PayloadTooLarge(f"one reading of {row_size} bytes exceeds the queue message limit")
            if size + row_size + (0 if open_group else header) > max_bytes:
                parts.append(current)
                current, size, open_group = [], envelope, None
            if open_group is None:
                open_group = SeriesRows(group.kind, group.series_id, group.version, group.types, [], group.dimensions)
                current.append(open_group)
                size += header
            open_group.rows.append(row)
            size += row_size
    if current:
        parts.append(current)
    return [AcceptedBatch(f"{batch.batch_id}.{n}", batch.org_id, groups=groups) for n, groups in enumerate(parts, 1)]


class SqsReadingQueue:
    def __init__(
        self,
        queue_url: str,
        client: SQSClient | None = None,
        max_message_bytes: int = DEFAULT_MAX_MESSAGE_BYTES,
    ) -> None:
        self.queue_url = queue_url
        self._client = client
        self.max_message_bytes = max_message_bytes

    @property
    def client(self) -> SQSClient:
        """The adapter's own client skips botocore's client-side parameter validation (the
        documented ``Config(parameter_validation=False)``): the two parameters are strings this
        class builds, SQS validates the request anyway, and re-checking them cost every ingest
        request's SendMessage about a fifth of its client-side time (docs/performance.md)."""
        if self._client is None:
            from botocore.config import Config

            with CLIENT_LOCK:
                if self._client is None:
                    self._client = aws_client("sqs", config=Config(parameter_validation=False))
        return self._client

    def enqueue(self, batch: AcceptedBatch) -> None:
        """Returns once SQS acknowledged every part; raises Unavailable otherwise."""
        from botocore.exceptions import BotoCoreError, ClientError

        for body in message_bodies(batch, self.max_message_bytes):
            try:
                response: Any = self.client.send_message(QueueUrl=self.queue_url, MessageBody=body.decode())
            except ClientError as exc:
                code = exc.response.get("Error", {}).get("Code", "ClientError")
                raise Unavailable(f"the reading queue refused the batch ({code})") from exc
            except BotoCoreError as exc:
                raise Unavailable(f"the reading queue is unreachable ({type(exc).__name__})") from exc
            if not response.get("MessageId"):
                raise Unavailable("the reading queue did not acknowledge the batch")
