"""What the connectors share: a status answer to the port's refusals, timestamps, settings access."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from telemetry.adapters.egress import Answer
from telemetry.ports.integrations import ProviderAuthFailed, ProviderThrottled, ProviderUnavailable


class SettingInvalid(ProviderAuthFailed):
    """A ``connection`` / ``credentials`` field is missing or malformed: like refused credentials,
    it needs a human (health ``needs_attention``), not a retry."""


def iso_utc(ms: int) -> str:
    """Epoch ms as ISO 8601 UTC with ``Z`` (what the providers accept as a date parameter)."""
    return datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def iso_ms(text: str) -> int:
    """An ISO 8601 timestamp (``Z`` or an offset) as epoch ms."""
    return int(datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp() * 1000)


def refuse_status(answer: Answer, provider: str) -> None:
    """Raise the port's refusal for a non-2xx answer: 429 throttled (``Retry-After``), 401/403 auth
    failed, anything else unavailable (the cursor does not move). The body is never quoted: it may
    echo what we sent."""
    status = answer.status
    if 200 <= status < 300:
        return
    if status == 429:
        raise ProviderThrottled(f"{provider} answered 429 (rate limited)", answer.retry_after_s())
    if status in (401, 403):
        raise ProviderAuthFailed(f"{provider} refused the credentials ({status})")
    raise ProviderUnavailable(f"{provider} answered {status}")


def text_setting(settings: Mapping[str, Any], name: str, where: str, default: str | None = None) -> str:
    """A required (or defaulted) non-empty string of ``connection`` / ``credentials``."""
    value = settings.get(name, default)
    if not isinstance(value, str) or not value.strip():
        raise SettingInvalid(f"{where}.{name} is missing or not a non-empty string")
    return value.strip()


def int_setting(settings: Mapping[str, Any], name: str, default: int, low: int, high: int) -> int:
    value = settings.get(name, default)
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise SettingInvalid(f"connection.{name} must be an integer from {low} to {high}")
    return value
