"""What the local gateway receives and answers, and the small helpers its modules share."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

MAX_BODY_BYTES = 10 * 1024 * 1024


@dataclass
class IncomingRequest:
    method: str
    path: str  # raw, percent-encoded, without query string
    query: str
    headers: list[tuple[str, str]]
    body: bytes
    source_ip: str = "127.0.0.1"
    protocol: str = "HTTP/1.1"

    def header(self, name: str) -> str | None:
        found = None
        for k, v in self.headers:
            if k.lower() == name.lower():
                found = v
        return found

    def header_values(self, name: str) -> list[str]:
        """Every value of ``name`` in any capitalisation (repeated lines included)."""
        return [v for k, v in self.headers if k.lower() == name.lower()]


@dataclass
class OutgoingResponse:
    status: int
    headers: list[tuple[str, str]]
    body: bytes
    function_id: str | None = None
    note: str = ""

    def header(self, name: str) -> str | None:
        return next((v for k, v in self.headers if k.lower() == name.lower()), None)


def multi_maps(pairs: list[tuple[str, str]]) -> tuple[dict[str, str] | None, dict[str, list[str]] | None]:
    """API Gateway's single-value (last wins) and multi-value maps; both None when empty."""
    if not pairs:
        return None, None
    single: dict[str, str] = {}
    multi: dict[str, list[str]] = {}
    for k, v in pairs:
        single[k] = v
        multi.setdefault(k, []).append(v)
    return single, multi


def wildcard(pattern: str) -> re.Pattern[str]:
    return re.compile("^" + re.escape(pattern).replace(r"\*", ".*").replace(r"\?", ".") + "$")


def as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    return value if isinstance(value, list) else [value]
