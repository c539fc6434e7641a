"""The body of one pull-queue message, read back into a :class:`PullStep`.

Two producers write to the pull queue, and both shapes are read here:

* the platform itself (the runs API, a webhook, a step that found more data waiting), through
  the :class:`~telemetry.ports.integrations.PullQueue` port: ``{"org_id", "integration_id",
  "run_id", "reason", "pushed"}`` (the dataclass's own field names);
* EventBridge Scheduler, whose schedule per integration sends its fixed ``Input``
  ``{"org_id", "integration_id", "reason": "schedule"}``. The camelCase spelling
  (``orgId``/``integrationId``/``runId``) is read too, so a schedule written by hand or by an
  older stack is not a poison message.

A body that is not such an object can never become a step: :class:`PoisonStep`, and the handler
lets SQS move it to the pull DLQ after maxReceiveCount, where it can be read.
"""

from __future__ import annotations

import re
from typing import Any

from telemetry.body import load_json
from telemetry.errors import DomainError
from telemetry.ports.integrations import PullStep

#: why a step runs; ``continue`` = the previous step of the same run found more data waiting
REASONS = ("schedule", "manual", "webhook", "continue")
#: ids are the platform's own (``org_…``, ``intg_…``, ``run_…``): a bounded, URL-safe alphabet
#: SQS's message size limit (a bigger body cannot have come from the queue)
MAX_STEP_BYTES = 256 * 1024
_ID = re.compile(r"^[A-Za-z0-9_-]{1,128}$")


class PoisonStep(DomainError):
    """A pull-queue message that can never be a step (not JSON, missing ids, unknown reason)."""

    reason = "poison-step"
    title = "Poison pull step"


def _field(doc: dict[str, Any], snake: str, camel: str) -> Any:
    return doc[snake] if snake in doc else doc.get(camel)


def _id(doc: dict[str, Any], snake: str, camel: str) -> str:
    value = _field(doc, snake, camel)
    if not isinstance(value, str) or not _ID.match(value):
        raise PoisonStep(f"{snake} must be an id string, not {type(value).__name__}")
    return value


def parse_step(body: str | bytes) -> PullStep:
    """One message body -> a step; :class:`PoisonStep` naming the field that is wrong."""
    doc = load_json(body, MAX_STEP_BYTES, lambda _: PoisonStep("the message body is not JSON"))
    if not isinstance(doc, dict):
        raise PoisonStep("the message body must be a JSON object")
    org_id = _id(doc, "org_id", "orgId")
    integration_id = _id(doc, "integration_id", "integrationId")
    run_id = None if _field(doc, "run_id", "runId") is None else _id(doc, "run_id", "runId")
    reason = doc.get("reason", "schedule")
    if reason not in REASONS:
        raise PoisonStep(f"reason must be one of {', '.join(REASONS)}, not {reason!r}")
    pushed = doc.get("pushed") or []
    if not isinstance(pushed, list) or not all(isinstance(r, dict) for r in pushed):
        raise PoisonStep("pushed must be an array of JSON objects")
    return PullStep(org_id=org_id, integration_id=integration_id, run_id=run_id, reason=reason, pushed=pushed)
