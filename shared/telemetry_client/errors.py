"""Typed exceptions for every refusal the API (and each dialect) answers.

The platform API and two dialects answer RFC 9457 ``application/problem+json``; the dakkio
dialect answers its document's ``{"error", "message", "details"}``. Both are read into the same
fields (``type``, ``title``, ``status``, ``detail``, ``errors``) and the raw body stays on
``body`` so nothing is lost.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import httpx

__all__ = [
    "ApiError",
    "BadRequest",
    "ClientError",
    "Conflict",
    "FailedDependency",
    "FieldError",
    "Forbidden",
    "NotFound",
    "PayloadTooLarge",
    "RateLimited",
    "ServerError",
    "ServiceUnavailable",
    "TooLargeToSplit",
    "Unauthorized",
    "Unprocessable",
    "error_from_response",
]

FieldError = dict[str, Any]
"""One entry of ``errors``: ``{"path": "frames/3/metrics/soc", "message": "..."}``."""


class ClientError(Exception):
    """A request the client refuses to send (it could never succeed), before any I/O."""


class TooLargeToSplit(ClientError):
    """One item alone exceeds a request limit, so no split of the request can be sent."""


class ApiError(Exception):
    """A non-2xx answer. ``errors`` names each invalid field, as the server sent it."""

    status_code: int = 0

    def __init__(
        self,
        status: int,
        *,
        type: str | None = None,
        title: str | None = None,
        detail: str | None = None,
        errors: list[FieldError] | None = None,
        body: Any = None,
        headers: Mapping[str, str] | None = None,
        method: str = "",
        url: str = "",
    ) -> None:
        self.status = status
        self.type = type
        self.title = title
        self.detail = detail
        self.errors: list[FieldError] = list(errors or [])
        self.body = body
        self.headers = {k.lower(): v for k, v in (headers or {}).items()}
        self.method, self.url = method, url
        super().__init__(self._message())

    def _message(self) -> str:
        text = f"{self.status} {self.title or 'error'}"
        if self.detail:
            text += f": {self.detail}"
        if self.type:
            text += f" [{self.type}]"
        return f"{text} ({self.method} {self.url})" if self.method else text

    @property
    def retry_after(self) -> float | None:
        """``Retry-After`` in seconds, when the answer carried one."""
        return parse_retry_after(self.headers.get("retry-after"))


class BadRequest(ApiError):
    status_code = 400


class Unauthorized(ApiError):
    status_code = 401


class Forbidden(ApiError):
    status_code = 403


class NotFound(ApiError):
    status_code = 404


class Conflict(ApiError):
    status_code = 409


class PayloadTooLarge(ApiError):
    status_code = 413


class Unprocessable(ApiError):
    status_code = 422


class FailedDependency(ApiError):
    status_code = 424


class RateLimited(ApiError):
    status_code = 429


class ServerError(ApiError):
    status_code = 500


class ServiceUnavailable(ServerError):
    status_code = 503


_BY_STATUS: dict[int, type[ApiError]] = {
    cls.status_code: cls
    for cls in (
        BadRequest,
        Unauthorized,
        Forbidden,
        NotFound,
        Conflict,
        PayloadTooLarge,
        Unprocessable,
        FailedDependency,
        RateLimited,
        ServiceUnavailable,
    )
}


def parse_retry_after(value: str | None) -> float | None:
    """Seconds from a ``Retry-After`` header (delta-seconds or an HTTP date)."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    from datetime import UTC, datetime
    from email.utils import parsedate_to_datetime

    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - datetime.now(UTC)).total_seconds())


def _dakkio_errors(details: Any) -> list[FieldError]:
    out: list[FieldError] = []
    for item in details if isinstance(details, list) else []:
        if isinstance(item, dict):
            path = item.get("path")
            joined = "/".join(str(p) for p in path) if isinstance(path, list) else str(path or "")
            out.append({"path": joined, "message": str(item.get("message", ""))})
    return out


def error_from_response(response: httpx.Response) -> ApiError:
    """The typed exception for a non-2xx answer, with the problem (or dialect) fields read."""
    try:
        body: Any = response.json()
    except ValueError:
        body = response.text or None
    fields: dict[str, Any] = {}
    if isinstance(body, dict):
        if "title" in body or "type" in body:  # RFC 9457
            fields = {
                "type": body.get("type"),
                "title": body.get("title"),
                "detail": body.get("detail"),
                "errors": body.get("errors") if isinstance(body.get("errors"), list) else None,
            }
        elif "error" in body:  # dakkio: {"error", "message", "details"}
            fields = {
                "title": str(body.get("error")),
                "detail": body.get("message"),
                "errors": _dakkio_errors(body.get("details")),
            }
        elif "message" in body:  # API Gateway's own answers
            fields = {"title": str(body.get("message"))}
    status = response.status_code
    cls = _BY_STATUS.get(status) or (ServerError if status >= 500 else ApiError)
    return cls(
        status,
        body=body,
        headers=response.headers,
        method=response.request.method,
        url=str(response.request.url),
        **fields,
    )
