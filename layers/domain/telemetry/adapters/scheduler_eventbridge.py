"""PullScheduler on EventBridge Scheduler: one schedule per integration, in one schedule group.

Each schedule is ``rate(N minutes)`` with its target the pull queue (SQS): Scheduler assumes
``role_arn`` (allowed ``sqs:SendMessage`` on that queue only) and sends the JSON
``{"org_id", "integration_id", "reason": "schedule"}``, which is a :class:`PullStep` body. A
disabled integration keeps its schedule in state ``DISABLED`` (so enabling it again is one
update). Schedule names are at most 64 characters of ``[0-9A-Za-z-_.]``: ``<org>.<integration>``
when that fits, else a SHA-256 of both (the name is derived again on every call, never stored).
"""

from __future__ import annotations

import hashlib
import re
from typing import Any

import orjson
from botocore.exceptions import BotoCoreError, ClientError

from telemetry.adapters.aws_clients import CLIENT_LOCK, aws_client, error_code
from telemetry.errors import Unavailable

_NAME = re.compile(r"^[0-9A-Za-z_.-]{1,64}$")


def schedule_name(org_id: str, integration_id: str) -> str:
    plain = f"{org_id}.{integration_id}"
    if _NAME.match(plain):
        return plain
    return "h." + hashlib.sha256(f"{org_id}/{integration_id}".encode()).hexdigest()[:62]


def rate_expression(every_minutes: int) -> str:
    """Scheduler wants the singular for one: ``rate(1 minute)``, ``rate(15 minutes)``."""
    return f"rate({every_minutes} {'minute' if every_minutes == 1 else 'minutes'})"


class EventBridgePullScheduler:
    def __init__(self, group: str, queue_arn: str, role_arn: str, client: Any = None) -> None:
        self.group = group
        self.queue_arn = queue_arn
        self.role_arn = role_arn
        self._client = client

    @property
    def client(self) -> Any:
        if self._client is None:
            with CLIENT_LOCK:
                if self._client is None:
                    self._client = aws_client("scheduler")
        return self._client

    def upsert(self, org_id: str, integration_id: str, every_minutes: int, enabled: bool) -> None:
        params = {
            "Name": schedule_name(org_id, integration_id),
            "GroupName": self.group,
            "ScheduleExpression": rate_expression(every_minutes),
            "FlexibleTimeWindow": {"Mode": "OFF"},
            "State": "ENABLED" if enabled else "DISABLED",
            "Description": f"pull integration {integration_id} of {org_id}"[:512],
            "Target": {
                "Arn": self.queue_arn,
                "RoleArn": self.role_arn,
                "Input": orjson.dumps(
                    {"org_id": org_id, "integration_id": integration_id, "reason": "schedule"}
                ).decode(),
            },
        }
        try:
            try:
                self.client.create_schedule(**params)
            except ClientError as exc:
                if error_code(exc) != "ConflictException":
                    raise
                self.client.update_schedule(**params)
        except (ClientError, BotoCoreError) as exc:
            raise _unavailable(exc) from exc

    def delete(self, org_id: str, integration_id: str) -> None:
        try:
            self.client.delete_schedule(Name=schedule_name(org_id, integration_id), GroupName=self.group)
        except ClientError as exc:
            if error_code(exc) != "ResourceNotFoundException":
                raise _unavailable(exc) from exc
        except BotoCoreError as exc:
            raise _unavailable(exc) from exc


def _unavailable(exc: Exception) -> Unavailable:
    return Unavailable(f"the scheduler failed ({error_code(exc)})")
