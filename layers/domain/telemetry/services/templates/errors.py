"""Template-specific domain errors."""

from __future__ import annotations

from telemetry.errors import FieldError, Unprocessable, ValidationFailed


class TemplateExecutionFailed(Unprocessable, ValidationFailed):
    """A template's code failed while processing one payload; nothing was written.

    ``reason`` is one of ``script-timeout``, ``script-memory``, ``script-error`` (the handler threw,
    or the source does not compile / define ``handler``) and ``script-result`` (the result is not a
    JSON-serializable array, or is too long). It is :class:`Unprocessable` (422: the request is
    well-formed and the template valid, but this combination could not be processed) and carries
    the script's message as a :class:`ValidationFailed` field error.
    """

    def __init__(self, reason: str, message: str) -> None:
        super().__init__([FieldError(("spec", "source"), message)], detail=message, reason=reason)
