"""Domain errors of the measurements endpoint. Each ``reason`` is the ``<reason>`` of the problem
type ``urn:ambiquality:ingestion:<reason>``; :mod:`telemetry.http.ambiquality` maps them to HTTP."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from telemetry.errors import DomainError, Forbidden, MalformedRequest, RateLimited, Unauthenticated


class MissingKey(Unauthenticated):
    reason = "missing-key"
    title = "Missing sensor key"


class InvalidKey(Unauthenticated):
    """Unknown key, a rotated-away key, or a key that is not the body's sensor's."""

    reason = "invalid-key"
    title = "Invalid sensor key"


class SensorNotActive(Forbidden):
    reason = "sensor-not-active"
    title = "Sensor is not active"


class InvalidBody(MalformedRequest):
    """Not JSON, or not the shape of a batch (missing sensorId/readings, unknown fields)."""

    reason = "invalid-body"
    title = "Invalid request body"


class SensorRateLimited(RateLimited):
    reason = "rate-limited"
    title = "Reporting interval not yet elapsed"


@dataclass(frozen=True, slots=True)
class ReadingProblem:
    """Why one reading made the batch fail. ``reason`` is a problem type suffix."""

    reason: str
    detail: str
    index: int | None = None
    parameter_code: str | None = None

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"type": f"urn:ambiquality:ingestion:{self.reason}", "detail": self.detail}
        if self.index is not None:
            out["index"] = self.index
        if self.parameter_code is not None:
            out["parameterCode"] = self.parameter_code
        return out


#: Titles of the 422 reasons (the ``title`` of the problem).
REJECTION_TITLES = {
    "empty-batch": "Empty batch",
    "duplicate-parameter": "Duplicate parameter",
    "parameter-not-declared": "Parameter not declared",
    "value-out-of-range": "Value out of range",
    "unit-mismatch": "Unit mismatch",
    "invalid-value": "Value is not a number",
    "invalid-body": "Invalid request body",
}


class BatchRejected(DomainError):
    """The batch failed validation; nothing was stored. The first problem (in reading order)
    names the problem type; every problem found is listed."""

    title = "Batch rejected"

    def __init__(self, problems: list[ReadingProblem]) -> None:
        self.problems = problems
        first = problems[0]
        self.reason = first.reason
        self.title = REJECTION_TITLES.get(first.reason, "Batch rejected")
        more = f" (and {len(problems) - 1} more problem(s))" if len(problems) > 1 else ""
        super().__init__(f"{first.detail}{more}; nothing was stored")
