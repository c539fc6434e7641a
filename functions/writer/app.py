"""Writer: SQS (accepted reading batches) -> ReadingStore, with partial batch failures.

Each SQS record is one :class:`AcceptedBatch`, stored as it is handled; the rollups of all of
them are refreshed once at the end (``InvocationWriter``). A record that fails (store down, transient
refusal, poison) is reported in ``batchItemFailures`` so only it is redelivered; the queue's
redrive policy moves it to the DLQ after maxReceiveCount. The store comes from the composition
root on first use (``READING_STORE``, ``READINGS_TABLE``, ``TIMESTREAM_*``).
"""

from __future__ import annotations

from typing import Any

from telemetry.coldstart import cold_start
from aws_lambda_powertools import Logger
from telemetry.bootstrap import container
from telemetry.services.writer import InvocationWriter, PoisonMessage

logger = Logger(service="writer")


def record_handler(writer: InvocationWriter, message_id: str, body: str) -> None:
    try:
        outcome = writer.write(message_id, body)
    except PoisonMessage as exc:
        logger.error("poison message, left for the DLQ", message_id=message_id, detail=exc.detail)
        raise
    for detail in outcome.dead_letter_details():
        logger.warning("record dead-lettered", message_id=message_id, batch_id=outcome.batch_id, **detail)
    logger.debug("batch written", batch_id=outcome.batch_id, written=outcome.written)


def _records(event: dict[str, Any]) -> list[dict[str, Any]]:
    records = event.get("Records")
    if not isinstance(records, list):
        raise ValueError("not an SQS event: no Records list")
    return records


@cold_start
@logger.inject_lambda_context(clear_state=True)
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    writer = InvocationWriter(container().readings)
    # SQS partial batch response: each record that raised is reported (a batch whose every record
    # failed too, record by record), so only those are redelivered; what powertools' BatchProcessor
    # does, whose module costs the cold start asyncio and every event data class (~40 ms)
    failures: list[dict[str, str]] = []
    for record in _records(event):
        message_id = str(record["messageId"])
        try:
            record_handler(writer, message_id, str(record["body"]))
        except Exception as exc:
            logger.debug("record failed, left for redelivery", message_id=message_id, error=type(exc).__name__)
            failures.append({"itemIdentifier": message_id})
    # The rollups of every stored message, once; if that fails, those messages are redelivered too.
    unsummarized = writer.finish()
    if unsummarized:
        logger.warning("rollups not refreshed; redelivering the stored messages", messages=len(unsummarized))
        failures.extend({"itemIdentifier": message_id} for message_id in unsummarized)
    return {"batchItemFailures": failures}
