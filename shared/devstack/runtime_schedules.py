"""EventBridge Scheduler, emulated from what moto stores: schedules created at run time fire.

moto keeps schedules (``scheduler.create_schedule``) but never runs them, and the template's own
``Schedule`` events (:mod:`devstack.scheduler`) are known before start. Integrations create one
schedule per integration while the stack runs, so :class:`SchedulerEmulator` polls moto's
Scheduler API every ``tick`` seconds and fires each ENABLED ``rate(...)`` schedule one interval
after it was created or last changed, then every interval (``speedup`` divides intervals, as for
template schedules). Targets: an SQS queue ARN (``send_message`` with the target's ``Input``, the
way Scheduler's templated SQS target delivers it) or a local function's ARN (invoked with the
``Input``). ``cron(...)``/``at(...)`` expressions and other target types are logged and skipped.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from .scheduler import parse_rate

log = logging.getLogger("devstack.runtime_schedules")


@dataclass
class _Due:
    changed: float  #: LastModificationDate (epoch s) the due time was computed from
    next_at: float  #: monotonic-free wall time of the next firing (epoch s)
    fired: int = 0


class SchedulerEmulator:
    def __init__(
        self,
        client: Any,
        sqs: Any,
        *,
        invoke: Callable[[str, Any], None] | None = None,
        speedup: float = 1.0,
        tick: float = 1.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._client = client
        self._sqs = sqs
        self._invoke = invoke
        self.speedup = speedup if speedup > 0 else 1.0
        self.tick = tick
        self._clock = clock
        self._due: dict[tuple[str, str], _Due] = {}
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    # ------------------------------------------------------------------ one pass

    def run_due(self) -> int:
        """Fire every schedule that is due now; returns how many fired (tests call this directly)."""
        now = self._clock()
        seen: set[tuple[str, str]] = set()
        fired = 0
        for group in self._groups():
            for summary in self._paged("list_schedules", "Schedules", GroupName=group):
                key = (group, summary["Name"])
                seen.add(key)
                if summary.get("State") != "ENABLED":
                    self._due.pop(key, None)
                    continue
                schedule = self._client.get_schedule(Name=summary["Name"], GroupName=group)
                interval = parse_rate(schedule.get("ScheduleExpression", ""))
                if interval is None:
                    continue
                interval /= self.speedup
                changed = _epoch(schedule.get("LastModificationDate") or schedule.get("CreationDate"))
                due = self._due.get(key)
                if due is None or due.changed != changed:
                    # like Scheduler's rate schedules here: first run one interval after the change
                    due = self._due[key] = _Due(changed=changed, next_at=max(changed, now - interval) + interval)
                if now >= due.next_at:
                    self._fire(key, schedule.get("Target", {}))
                    due.fired += 1
                    fired += 1
                    due.next_at = max(due.next_at + interval, now)
        for gone in set(self._due) - seen:  # deleted schedules
            del self._due[gone]
        return fired

    def fired(self, group: str, name: str) -> int:
        due = self._due.get((group, name))
        return due.fired if due else 0

    def _fire(self, key: tuple[str, str], target: Mapping[str, Any]) -> None:
        arn = str(target.get("Arn", ""))
        payload = target.get("Input", "{}")
        try:
            if arn.startswith("arn:aws:sqs:"):
                self._sqs.send_message(QueueUrl=self._queue_url(arn), MessageBody=payload)
            elif arn.startswith("arn:aws:lambda:") and self._invoke is not None:
                self._invoke(arn.rsplit(":", 1)[-1], json.loads(payload))
            else:
                log.warning("schedule %s/%s: target %s is not emulated locally", *key, arn)
                return
            log.info("schedule %s/%s fired -> %s", *key, arn)
        except Exception:  # a failing target must not stop the other schedules
            log.exception("schedule %s/%s: delivering to %s failed", *key, arn)

    def _queue_url(self, arn: str) -> str:
        name = arn.rsplit(":", 1)[-1]
        return str(self._sqs.get_queue_url(QueueName=name)["QueueUrl"])

    def _groups(self) -> list[str]:
        return [g["Name"] for g in self._paged("list_schedule_groups", "ScheduleGroups")]

    def _paged(self, operation: str, field: str, **kwargs: Any) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = []
        token: str | None = None
        while True:
            page = getattr(self._client, operation)(**kwargs, **({"NextToken": token} if token else {}))
            items.extend(page.get(field, []))
            token = page.get("NextToken")
            if not token:
                return items

    # ------------------------------------------------------------------ background thread

    def _run(self) -> None:
        while not self._stop.wait(self.tick):
            try:
                self.run_due()
            except Exception:  # moto going away on shutdown, a transient error
                log.debug("scheduler pass failed", exc_info=True)

    def start(self) -> SchedulerEmulator:
        self._thread = threading.Thread(target=self._run, name="scheduler-emulator", daemon=True)
        self._thread.start()
        return self

    def stop(self, timeout: float = 10) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None


def _epoch(value: Any) -> float:
    if value is None:
        return 0.0
    if hasattr(value, "timestamp"):
        return float(value.timestamp())
    return float(value)
