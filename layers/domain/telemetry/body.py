"""Request body loading, once for every ingest path (frames, templates, the three dialects).

The size limit, JSON parsing (orjson: no NaN/Infinity, 64-bit integers, depth limited to 1,024)
and the "is it an object" check live here, so every door refuses the same inputs the same way.
It is a neutral module (not ``telemetry.http``) because services parse their own bodies on the
ingest hot path. The limits themselves are in :mod:`telemetry.limits`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import orjson

from telemetry.errors import DomainError, MalformedRequest, PayloadTooLarge, ValidationFailed

Body = bytes | bytearray | memoryview | str


def body_size(body: Body) -> int:
    """The size in bytes (a str is measured as its UTF-8 encoding; ASCII needs no copy)."""
    if isinstance(body, str):
        return len(body) if body.isascii() else len(body.encode())
    return len(body)


def check_size(body: Body, max_bytes: int) -> None:
    if body_size(body) > max_bytes:
        raise PayloadTooLarge(f"the request body exceeds {max_bytes} bytes")


def load_json(
    body: Body,
    max_bytes: int,
    malformed: Callable[[str], DomainError] = MalformedRequest,
) -> Any:
    """Size-check then parse; any JSON value. ``malformed`` builds the dialect's own error."""
    check_size(body, max_bytes)
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError:
        raise malformed("the request body is not valid JSON") from None


def load_object(
    body: Body,
    max_bytes: int,
    malformed: Callable[[str], DomainError] = MalformedRequest,
    not_object: Callable[[Any], DomainError] | None = None,
) -> dict[str, Any]:
    """Size-check, parse, and require a JSON object (``not_object`` builds a dialect's error)."""
    doc = load_json(body, max_bytes, malformed)
    if type(doc) is not dict:
        raise not_object(doc) if not_object else ValidationFailed.single([], "the body must be a JSON object")
    return doc
