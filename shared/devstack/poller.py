"""The SQS event source mapping: long-poll a queue, invoke the function, delete what succeeded.

Redrive: moto implements the RedrivePolicy itself (moto/sqs/models.py ``receive_message``): a
visible message whose ApproximateReceiveCount has reached ``maxReceiveCount`` is moved to the
dead-letter queue on the next receive, which is what SQS does. The poller therefore only has to
leave failed messages undeleted; they reappear after the queue's VisibilityTimeout.

Differences from AWS: one poller thread per mapping (AWS scales pollers and concurrent batches),
``MaximumBatchingWindowInSeconds`` is not waited for (a batch is whatever one receive returns,
which keeps local latency low), and visibility is never changed by the poller (neither is it by
AWS on failure).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Mapping
from typing import Any

import boto3

from .lambdas import LocalFunction
from .template import REGION, SqsEventSpec

log = logging.getLogger("devstack.poller")


def _message_attributes(attrs: Mapping[str, Any]) -> dict[str, Any]:
    """SQS API message attributes -> the lower-camel shape of the Lambda SQS event."""
    import base64

    out: dict[str, Any] = {}
    for name, value in attrs.items():
        entry: dict[str, Any] = {
            "stringListValues": value.get("StringListValues", []),
            "binaryListValues": [base64.b64encode(b).decode() for b in value.get("BinaryListValues", [])],
            "dataType": value.get("DataType", "String"),
        }
        if "StringValue" in value:
            entry["stringValue"] = value["StringValue"]
        if "BinaryValue" in value:
            raw = value["BinaryValue"]
            entry["binaryValue"] = base64.b64encode(raw).decode() if isinstance(raw, bytes) else raw
        out[name] = entry
    return out


def sqs_record(message: Mapping[str, Any], queue_arn: str) -> dict[str, Any]:
    record: dict[str, Any] = {
        "messageId": message["MessageId"],
        "receiptHandle": message["ReceiptHandle"],
        "body": message.get("Body", ""),
        "attributes": dict(message.get("Attributes") or {}),
        "messageAttributes": _message_attributes(message.get("MessageAttributes") or {}),
        "md5OfBody": message.get("MD5OfBody", ""),
        "eventSource": "aws:sqs",
        "eventSourceARN": queue_arn,
        "awsRegion": REGION,
    }
    if message.get("MD5OfMessageAttributes"):
        record["md5OfMessageAttributes"] = message["MD5OfMessageAttributes"]
    return record


def failed_ids(response: Any, batch_ids: list[str]) -> set[str]:
    """Message ids to keep per the ReportBatchItemFailures contract.

    An empty/absent list means success; an invalid entry (missing, empty or unknown
    itemIdentifier) makes the whole batch fail, as on AWS.
    """
    if not isinstance(response, dict) or not response.get("batchItemFailures"):
        return set()
    failures = response["batchItemFailures"]
    if not isinstance(failures, list):
        return set(batch_ids)
    ids: set[str] = set()
    for item in failures:
        ident = item.get("itemIdentifier") if isinstance(item, dict) else None
        if not ident or ident not in batch_ids:
            log.warning("invalid batchItemFailures entry %r: the whole batch is retried", item)
            return set(batch_ids)
        ids.add(ident)
    return ids


class SqsPoller:
    """One event source mapping. ``poll_once`` is the unit of work; ``start`` runs it in a loop."""

    def __init__(
        self,
        spec: SqsEventSpec,
        function: LocalFunction,
        *,
        queue_url: str,
        queue_arn: str,
        session: boto3.session.Session,
        endpoint_url: str | None = None,
        wait_seconds: int = 1,
    ) -> None:
        self.spec = spec
        self.function = function
        self.queue_url = queue_url
        self.queue_arn = queue_arn
        self.wait_seconds = wait_seconds
        self.client = session.client("sqs", endpoint_url=endpoint_url)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.batches = 0

    def poll_once(self) -> int:
        """Receive one batch, invoke, delete successes. Returns the number of messages received."""
        received = self.client.receive_message(
            QueueUrl=self.queue_url,
            MaxNumberOfMessages=max(1, min(self.spec.batch_size, 10)),
            WaitTimeSeconds=self.wait_seconds,
            MessageSystemAttributeNames=["All"],
            MessageAttributeNames=["All"],
        )
        messages = received.get("Messages") or []
        if not messages:
            return 0
        self.batches += 1
        records = [sqs_record(m, self.queue_arn) for m in messages]
        ids = [r["messageId"] for r in records]
        try:
            response = self.function.invoke({"Records": records})
        except Exception:
            log.exception(
                "%s failed on a batch of %d from %s; no message deleted",
                self.function.logical_id,
                len(records),
                self.spec.queue_id,
            )
            return len(messages)
        keep = failed_ids(response, ids) if self.spec.report_batch_item_failures else set()
        done = [r for r in records if r["messageId"] not in keep]
        for i in range(0, len(done), 10):
            chunk = done[i : i + 10]
            result = self.client.delete_message_batch(
                QueueUrl=self.queue_url,
                Entries=[{"Id": str(n), "ReceiptHandle": r["receiptHandle"]} for n, r in enumerate(chunk)],
            )
            for failure in result.get("Failed") or []:
                log.warning("delete failed for a message of %s: %s", self.spec.queue_id, failure)
        if keep:
            log.info(
                "%s: %d of %d messages reported failed; they return after the visibility timeout",
                self.function.logical_id,
                len(keep),
                len(records),
            )
        return len(messages)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.poll_once()
            except Exception:
                if self._stop.is_set():
                    break
                log.exception("polling %s failed; retrying in 1 s", self.spec.queue_id)
                self._stop.wait(1)

    def start(self) -> SqsPoller:
        self._thread = threading.Thread(
            target=self._run, name=f"sqs-{self.spec.function_id}-{self.spec.event_name}", daemon=True
        )
        self._thread.start()
        return self

    def stop(self, timeout: float = 10) -> None:
        self._stop.set()
        if self._thread is not None:
            deadline = time.monotonic() + timeout
            self._thread.join(max(0.0, deadline - time.monotonic()))
            if self._thread.is_alive():
                log.warning("poller %s did not stop within %ss", self._thread.name, timeout)
            self._thread = None
