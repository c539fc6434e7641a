"""Template-specific domain errors."""

from __future__ import annotations

from telemetry.errors import FieldError, ValidationFailed


class TemplateExecutionFailed(ValidationFailed):
    """A template's code failed while processing one payload; nothing was written.

    ``reason`` is one of ``script-timeout``, ``script-memory``, ``script-error`` (the handler threw,
    or the source does not compile / define ``handler``) and ``script-result`` (the result is not a
    JSON-serializable array, or is too long). It subclasses :class:`ValidationFailed` so the HTTP
    layer maps it like any rejected input (the payload + template combination is unprocessable).
    """

    def __init__(self, reason: str, message: str) -> None:
        super().__init__([FieldError(("spec", "source"), message)], detail=message, reason=reason)
