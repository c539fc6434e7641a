"""Integration pull: one pull-queue message = one pull step, with partial batch failures.

A step whose message must be retried (provider unavailable, a dependency down, a crash) is
reported in ``batchItemFailures``, so only it is redelivered; after maxReceiveCount the queue's
redrive policy moves it to the pull DLQ, and the reason is in this function's log. Steps that
skip (backing off, leased, needs attention) or fail for good (bad credentials) succeed: retrying
them would only storm the provider. docs/integrations.md "Pulls, cursors and faults".
"""

from __future__ import annotations

from typing import Any

from telemetry.coldstart import cold_start
from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from telemetry.bootstrap import container
from telemetry.services.integrations.steps import PoisonStep

logger = Logger(service="integration-pull")
processor = BatchProcessor(event_type=EventType.SQS, raise_on_entire_batch_failure=False)


class StepRetried(Exception):
    """Fails the record so SQS redelivers it (and, after maxReceiveCount, moves it to the DLQ)."""


def record_handler(record: SQSRecord) -> None:
    attempt = int(record.attributes.approximate_receive_count or 1)
    try:
        step, outcome = container().integration_pull.run_message(record.body, attempt)
    except PoisonStep as exc:
        logger.error("poison pull step, left for the DLQ", message_id=record.message_id, detail=exc.detail)
        raise
    fields: dict[str, object] = {
        "message_id": record.message_id,
        "attempt": attempt,
        "org": step.org_id,
        "integration": step.integration_id,
        "run_id": outcome.run_id,
        "step_reason": step.reason,
        "state": outcome.state,
        "outcome": outcome.reason,
        "records": outcome.records,
        "readings": outcome.readings,
        "more": outcome.more,
        "error": outcome.error,
    }
    if outcome.redeliver:
        logger.warning("pull step failed; SQS retries it (the pull DLQ after maxReceiveCount)", extra=fields)
        raise StepRetried(outcome.reason)
    logger.info("pull step", extra=fields)


@cold_start
@logger.inject_lambda_context(clear_state=True)
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return dict(
        process_partial_response(event=event, record_handler=record_handler, processor=processor, context=context)
    )
