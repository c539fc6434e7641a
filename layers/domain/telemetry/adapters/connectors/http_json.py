"""The generic ``http`` connector ("and others"): a JSON endpoint paged by a cursor parameter.

``connection``: ``url`` (the tenant's: every call passes the egress checks), ``cursorParam`` (the
query parameter the cursor is sent in), ``nextCursorPointer`` and ``recordsPointer`` (RFC 6901
JSON Pointers into the answer), ``recordType`` (what templates select on), optional ``params``
(fixed query parameters) and ``headers`` (non-secret ones). ``credentials.headers`` are added to
every call (an API key header, ``Authorization``...).

One step = one GET. The records are the objects of the array at ``recordsPointer``. The next
cursor is the value at ``nextCursorPointer``: present (a string or number) -> stored, and ``more``
while the page had records and the cursor moved; missing or null -> the end: the cursor is kept,
so the next run asks again from the same place (that page is read again: harmless, readings are
idempotent by key). Cursor: ``{"cursor": value | None}``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import jsonpointer

from telemetry.adapters.connectors._http import SettingInvalid, refuse_status, text_setting
from telemetry.adapters.egress import EgressClient
from telemetry.ports.integrations import ProviderRecord, ProviderUnavailable, PullPage, PullRequest

_MISSING = object()


class HttpJsonConnector:
    provider = "http"

    def __init__(self, client: EgressClient) -> None:
        self._client = client

    def pull(self, request: PullRequest) -> PullPage:
        connection = request.connection
        url = text_setting(connection, "url", "connection")
        param = text_setting(connection, "cursorParam", "connection")
        records_at = _pointer(connection, "recordsPointer")
        next_at = _pointer(connection, "nextCursorPointer")
        record_type = text_setting(connection, "recordType", "connection")
        headers = {
            **_string_map(connection, "headers", "connection"),
            **_string_map(request.credentials, "headers", "credentials"),
        }
        params: dict[str, Any] = dict(_string_map(connection, "params", "connection"))
        current = (request.cursor or {}).get("cursor")
        if current is not None:
            params[param] = str(current)
        answer = self._client.request("GET", url, headers=headers, params=params)
        refuse_status(answer, "the feed")
        body = answer.json()
        items = records_at.resolve(body, _MISSING)
        if not isinstance(items, list):
            raise ProviderUnavailable(f"the feed's answer has no array at {records_at.path!r}")
        following = next_at.resolve(body, None)
        if following is not None and (isinstance(following, bool) or not isinstance(following, str | int | float)):
            raise ProviderUnavailable(f"the next cursor at {next_at.path!r} is not a string or a number")
        records = [ProviderRecord(record_type, item) for item in items if isinstance(item, Mapping)]
        if following is None or following == "":
            return PullPage(records=records, cursor={"cursor": current}, more=False)
        return PullPage(records=records, cursor={"cursor": following}, more=bool(items) and following != current)


def _pointer(connection: Mapping[str, Any], name: str) -> jsonpointer.JsonPointer:
    raw = connection.get(name)
    if not isinstance(raw, str):
        raise SettingInvalid(f"connection.{name} must be a JSON Pointer string ('' is the whole answer)")
    try:
        return jsonpointer.JsonPointer(raw)
    except jsonpointer.JsonPointerException as exc:
        raise SettingInvalid(f"connection.{name} is not a JSON Pointer: {exc}") from None


def _string_map(settings: Mapping[str, Any], name: str, where: str) -> dict[str, str]:
    raw = settings.get(name) or {}
    if not isinstance(raw, Mapping) or not all(isinstance(k, str) and isinstance(v, str) for k, v in raw.items()):
        raise SettingInvalid(f"{where}.{name} must be an object of strings")
    return dict(raw)
