"""Fire ``Schedule`` / ``ScheduleV2`` events locally at their ``rate(...)`` interval.

``cron(...)`` expressions are logged as unsupported. Like EventBridge, the first invocation
happens one interval after start. ``speedup`` divides every interval (``speedup=60`` turns
``rate(1 minute)`` into one second). Without an ``Input`` the function receives the EventBridge
"Scheduled Event" (also for ScheduleV2, where EventBridge Scheduler's own payload may differ).
"""

from __future__ import annotations

import json
import logging
import re
import threading
import uuid
from datetime import UTC, datetime
from typing import Any

from .lambdas import LocalFunction
from .template import ACCOUNT_ID, REGION, ScheduleSpec

log = logging.getLogger("devstack.scheduler")

_RATE = re.compile(r"^rate\(\s*(\d+)\s+(minute|minutes|hour|hours|day|days)\s*\)$", re.IGNORECASE)
_UNIT_SECONDS = {"minute": 60, "hour": 3600, "day": 86400}


def parse_rate(expression: str) -> float | None:
    """Seconds between invocations for ``rate(N unit)``, None for anything else (cron, at)."""
    match = _RATE.match(expression.strip())
    if not match:
        return None
    value, unit = int(match.group(1)), match.group(2).lower().rstrip("s")
    return float(value * _UNIT_SECONDS[unit])


def scheduled_event(spec: ScheduleSpec) -> Any:
    if spec.input is not None:
        return json.loads(spec.input) if isinstance(spec.input, str) else spec.input
    return {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": "Scheduled Event",
        "source": "aws.events",
        "account": ACCOUNT_ID,
        "time": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "region": REGION,
        "resources": [f"arn:aws:events:{REGION}:{ACCOUNT_ID}:rule/{spec.name}"],
        "detail": {},
    }


class Schedule:
    def __init__(self, spec: ScheduleSpec, function: LocalFunction, *, speedup: float = 1.0) -> None:
        self.spec = spec
        self.function = function
        self.speedup = speedup if speedup > 0 else 1.0
        self.fired = 0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        rate = parse_rate(spec.expression)
        self.interval = rate / self.speedup if rate is not None else None

    def fire(self) -> None:
        self.fired += 1
        try:
            self.function.invoke(scheduled_event(self.spec))
        except Exception:
            log.exception("scheduled %s.%s failed", self.spec.function_id, self.spec.event_name)

    def _run(self) -> None:
        assert self.interval is not None
        while not self._stop.wait(self.interval):
            self.fire()

    def start(self) -> Schedule:
        if not self.spec.enabled:
            log.info("schedule %s.%s is disabled", self.spec.function_id, self.spec.event_name)
            return self
        if self.interval is None:
            log.warning(
                "schedule %s.%s: %r is not supported locally (only rate(...)); not firing",
                self.spec.function_id,
                self.spec.event_name,
                self.spec.expression,
            )
            return self
        log.info("schedule %s.%s every %.1fs", self.spec.function_id, self.spec.event_name, self.interval)
        self._thread = threading.Thread(target=self._run, name=f"schedule-{self.spec.function_id}", daemon=True)
        self._thread.start()
        return self

    def stop(self, timeout: float = 10) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None
