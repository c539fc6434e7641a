"""Time helpers. All platform times are UTC; record times are epoch milliseconds."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

from telemetry.limits import MAX_FUTURE_MS

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def now_ms() -> int:
    return time.time_ns() // 1_000_000


def latest_accepted_ms(now: int | None = None) -> int:
    """The latest reading time any ingest path accepts: the server clock + 24 h.

    The one future rule (frames, template readings and transactions, the dialects): a later time
    is almost always seconds/ms/us confusion or a device clock that was never set.
    """
    return (now_ms() if now is None else now) + MAX_FUTURE_MS


def iso_from_ms(ms: int) -> str:
    """``2024-01-15T10:30:05.123Z`` (milliseconds kept only when not zero)."""
    dt = datetime_from_ms(ms).replace(tzinfo=None)  # isoformat, not strftime: %Y writes year 1 as "1"
    return dt.isoformat(timespec="milliseconds" if ms % 1000 else "seconds") + "Z"


def datetime_from_ms(ms: int) -> datetime:
    """The UTC datetime of epoch milliseconds, exactly (no float division; years 1 to 9999)."""
    return _EPOCH + timedelta(milliseconds=ms)


def ms_from_iso(text: str) -> int:
    """Parse an ISO 8601 timestamp. A value without an offset is taken as UTC."""
    dt = datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    # integer arithmetic: float seconds * 1000 is off by one for some milliseconds
    delta = dt - _EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1000 + delta.microseconds // 1000
