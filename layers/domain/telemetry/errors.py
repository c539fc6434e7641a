"""Typed domain errors.

Every failure the domain can report is one of these. Adapters translate SDK errors into them;
:mod:`telemetry.http.problems` (and each dialect's error module) is the one place that maps them
to HTTP. ``reason`` is a stable machine-readable code used in problem ``type`` URIs.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class FieldError:
    """One invalid field: ``path`` locates it (list of keys/indexes), ``message`` says why."""

    path: tuple[str | int, ...]
    message: str

    def as_dict(self) -> dict[str, Any]:
        return {"path": "/".join(str(p) for p in self.path), "message": self.message}


class DomainError(Exception):
    """Base class. ``reason`` is stable; ``detail`` is for humans."""

    reason = "error"
    title = "Error"

    def __init__(self, detail: str = "", **extra: Any) -> None:
        super().__init__(detail or self.title)
        self.detail = detail or self.title
        self.extra = extra


class ValidationFailed(DomainError):
    """Input is well-formed JSON but violates the contract. Carries every field error found."""

    reason = "validation-error"
    title = "Validation failed"

    def __init__(self, errors: Sequence[FieldError], detail: str = "", reason: str | None = None) -> None:
        self.errors = list(errors)
        if reason:
            self.reason = reason
        first = self.errors[0] if self.errors else None
        super().__init__(detail or (f"{'/'.join(map(str, first.path))}: {first.message}" if first else ""))

    @classmethod
    def single(cls, path: Sequence[str | int], message: str, reason: str | None = None) -> ValidationFailed:
        return cls([FieldError(tuple(path), message)], reason=reason)


class Unprocessable(DomainError):
    """The request and its target are valid, but this combination could not be processed (422).

    A marker to inherit ahead of another error class (e.g. a template whose code fails on one
    payload): the status map finds it first; title and fields come from the other class.
    """

    reason = "unprocessable"


class MalformedRequest(DomainError):
    reason = "malformed-request"
    title = "Malformed request"


class UnsupportedMediaType(DomainError):
    """A body whose Content-Type is not JSON (the platform API speaks ``application/json`` only)."""

    reason = "unsupported-media-type"
    title = "Unsupported media type"


class PayloadTooLarge(DomainError):
    reason = "payload-too-large"
    title = "Payload too large"


class Unauthenticated(DomainError):
    reason = "unauthenticated"
    title = "Missing or invalid credentials"


class Forbidden(DomainError):
    reason = "forbidden"
    title = "Forbidden"


class NotFound(DomainError):
    """Also the answer for another organization's resource and for one outside a key's filter."""

    reason = "not-found"
    title = "Not found"


class Conflict(DomainError):
    reason = "conflict"
    title = "Conflict"


class FailedDependency(DomainError):
    reason = "failed-dependency"
    title = "Failed dependency"


class RateLimited(DomainError):
    reason = "rate-limited"
    title = "Too many requests"

    def __init__(self, detail: str = "", retry_after_seconds: int = 1) -> None:
        super().__init__(detail)
        self.retry_after_seconds = retry_after_seconds


class Unavailable(DomainError):
    """A dependency (queue, store) refused or failed; nothing was accepted."""

    reason = "service-unavailable"
    title = "Service unavailable"


class Internal(DomainError):
    """Not raised by domain code: the entrypoint renders an unexpected exception as this."""

    reason = "internal-error"
    title = "Internal error"


class NotSupported(DomainError):
    reason = "not-supported"
    title = "Not supported yet"


#: Each error's status: the HTTP status on the platform API, and the per-item ``status`` of a bulk
#: answer (the contract puts it in the body, so the services need it without the HTTP layer).
#: telemetry.http.problems renders it; the dialects map with tables of their own.
STATUS: dict[type[DomainError], int] = {
    ValidationFailed: 400,
    MalformedRequest: 400,
    Unauthenticated: 401,
    Forbidden: 403,
    NotFound: 404,
    Conflict: 409,
    PayloadTooLarge: 413,
    UnsupportedMediaType: 415,
    FailedDependency: 424,
    RateLimited: 429,
    NotSupported: 400,
    Unprocessable: 422,
    Unavailable: 503,
}


def status_of(err: DomainError) -> int:
    """The status of an error by its nearest class in :data:`STATUS` (500 for anything else)."""
    for cls in type(err).__mro__:
        if cls in STATUS:
            return STATUS[cls]  # type: ignore[index]
    return 500
