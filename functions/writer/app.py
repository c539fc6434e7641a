"""Writer: SQS (accepted reading batches) -> ReadingStore, with partial batch failures.

Each SQS record is one :class:`AcceptedBatch`, stored as it is handled; the rollups of all of
them are refreshed once at the end (``InvocationWriter``). A record that fails (store down, transient
refusal, poison) is reported in ``batchItemFailures`` so only it is redelivered; the queue's
redrive policy moves it to the DLQ after maxReceiveCount. The store comes from the composition
root on first use (``READING_STORE``, ``READINGS_TABLE``, ``TIMESTREAM_*``).
"""

from __future__ import annotations

from functools import partial
from typing import Any

from telemetry.coldstart import cold_start
from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from telemetry.bootstrap import container
from telemetry.services.writer import InvocationWriter, PoisonMessage

logger = Logger(service="writer")
# A batch whose every record failed is reported record by record too (same redelivery as raising,
# without a BatchProcessingError traceback per poison message).
processor = BatchProcessor(event_type=EventType.SQS, raise_on_entire_batch_failure=False)


def record_handler(writer: InvocationWriter, record: SQSRecord) -> None:
    try:
        outcome = writer.write(record.message_id, record.body)
    except PoisonMessage as exc:
        logger.error("poison message, left for the DLQ", message_id=record.message_id, detail=exc.detail)
        raise
    for detail in outcome.dead_letter_details():
        logger.warning("record dead-lettered", message_id=record.message_id, batch_id=outcome.batch_id, **detail)
    logger.debug("batch written", batch_id=outcome.batch_id, written=outcome.written)


@cold_start
@logger.inject_lambda_context(clear_state=True)
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    writer = InvocationWriter(container().readings)
    response = process_partial_response(
        event=event, record_handler=partial(record_handler, writer), processor=processor, context=context
    )
    failures = list(response.get("batchItemFailures", []))
    # The rollups of every stored message, once; if that fails, those messages are redelivered too.
    unsummarized = writer.finish()
    if unsummarized:
        logger.warning("rollups not refreshed; redelivering the stored messages", messages=len(unsummarized))
        failures.extend({"itemIdentifier": message_id} for message_id in unsummarized)
    return {**response, "batchItemFailures": failures}
