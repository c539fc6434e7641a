"""Opaque pagination cursors: URL-safe base64 of a small JSON object."""

from __future__ import annotations

import base64
import binascii
from typing import Any

import orjson

from telemetry.errors import ValidationFailed


def encode_cursor(data: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(orjson.dumps(data)).decode().rstrip("=")


def decode_cursor(token: str) -> dict[str, Any]:
    try:
        padded = token + "=" * (-len(token) % 4)
        data = orjson.loads(base64.urlsafe_b64decode(padded.encode()))
    except (binascii.Error, ValueError, UnicodeEncodeError):
        raise ValidationFailed.single(["continuationToken"], "is not a valid continuation token") from None
    if not isinstance(data, dict):
        raise ValidationFailed.single(["continuationToken"], "is not a valid continuation token")
    return data
