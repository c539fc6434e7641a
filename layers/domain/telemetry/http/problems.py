"""The one place that maps domain errors to HTTP for the platform API (RFC 9457 problem+json).

Dialects with their own documented error shapes (ambiquality, dakkio) have their own mapping
functions here too, so that every error mapping lives in this module.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import orjson

from telemetry import errors as e

PROBLEM_TYPE_BASE = "urn:telemetry:problem:"
PROBLEM_CONTENT_TYPE = "application/problem+json"

_STATUS = e.STATUS


def status_for(err: e.DomainError, table: dict[type[e.DomainError], int] | None = None) -> int:
    """The status of an error by its nearest class in ``table`` (the platform's by default)."""
    statuses = _STATUS if table is None else table
    for cls in type(err).__mro__:
        if cls in statuses:
            return statuses[cls]  # type: ignore[index]
    return 500


def problem_body(err: e.DomainError, instance: str | None = None) -> dict[str, Any]:
    status = status_for(err)
    body: dict[str, Any] = {
        "type": PROBLEM_TYPE_BASE + err.reason,
        "title": err.title,
        "status": status,
        "detail": err.detail,
    }
    if instance:
        body["instance"] = instance
    if isinstance(err, e.ValidationFailed):
        body["errors"] = [fe.as_dict() for fe in err.errors]
    body.update(err.extra)
    return body


Renderer = Callable[[e.DomainError, str | None], tuple[int, dict[str, str], str]]


def problem_renderer(
    status: Callable[[e.DomainError], int], body: Callable[[e.DomainError, str | None], dict[str, Any]]
) -> Renderer:
    """An RFC 9457 renderer: (status, headers, body text) of a domain error, with ``Retry-After``
    on rate limits. Dialects that answer problem+json with their own types and statuses pass
    their own ``status`` and ``body``."""

    def render(err: e.DomainError, instance: str | None = None) -> tuple[int, dict[str, str], str]:
        headers = {"Content-Type": PROBLEM_CONTENT_TYPE}
        if isinstance(err, e.RateLimited):
            headers["Retry-After"] = str(max(1, err.retry_after_seconds))
        return status(err), headers, orjson.dumps(body(err, instance)).decode()

    return render


#: the platform API's error renderer
problem_response = problem_renderer(status_for, problem_body)
