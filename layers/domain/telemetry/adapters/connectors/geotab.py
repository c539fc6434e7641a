"""Geotab: MyGeotab JSON-RPC over ``POST https://{server}/apiv1`` (INTEGRATIONS.md §2).

Written here rather than on the ``mygeotab`` client: that client calls ``requests`` itself (its own
session, ``allow_redirects=True``, no response cap, no way to plug in our egress transport) and
pulls in requests, urllib3, aiohttp, arrow, pytz, click and python-rapidjson (a Lambda cold start
and a layer we do not want). The protocol is four facts, taken from its ``mygeotab/api.py``: a
body ``{"id", "method", "params"}`` with ``params.credentials = {database, userName, sessionId}``;
``Authenticate`` answers ``{credentials, path}`` where ``path`` is "ThisServer" or the server to use
from then on; an error is ``{"error": ...}`` whose type the SDK reads at ``error.errors[0].name``
(the documentation shows ``error.data.type``: both are read); ``InvalidUserException`` means the
session is gone: authenticate again, once.

One step = ONE ``GetFeed`` call of one feed, round-robin over ``connection.feeds``: a full page
stays on its feed (``more``), otherwise the next feed's turn comes, and ``more`` stays true until
every feed had its turn in this round. So a step is one provider call (Geotab allows about one
GetFeed a second), one page of at most ``resultsLimit`` records (bounded memory and queue
messages), and a throttle holds back one feed's page only. Cursor:
``{"feeds": {typeName: toVersion}, "next": typeName}``; a feed without a version starts at
``search.fromDate`` = the pull's ``start_ms``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

from telemetry.adapters.connectors._http import SettingInvalid, int_setting, iso_utc, refuse_status, text_setting
from telemetry.adapters.egress import Answer, EgressClient
from telemetry.ports.integrations import (
    EgressRefused,
    ProviderAuthFailed,
    ProviderError,
    ProviderRecord,
    ProviderThrottled,
    ProviderUnavailable,
    PullPage,
    PullRequest,
)

MAX_RESULTS = 50_000
THIS_SERVER = "ThisServer"
_SERVER_NAME = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9.-]{0,251}[A-Za-z0-9])?(?::\d{1,5})?$")


class _RpcError(Exception):
    def __init__(self, error_type: str, message: str, answer: Answer) -> None:
        super().__init__(error_type)
        self.type, self.message, self.answer = error_type, message, answer

    def as_provider_error(self) -> ProviderError:
        text = f"Geotab {self.type}: {self.message[:200]}"
        if self.type == "OverLimitException":
            return ProviderThrottled(text, self.answer.retry_after_s())
        if self.type == "InvalidUserException":
            return ProviderAuthFailed(text)
        return ProviderUnavailable(text)


def error_type(error: Mapping[str, Any]) -> tuple[str, str]:
    """The error's type and message from either shape: ``error.data.type`` (the documentation)
    or ``error.errors[0].name`` (what the SDK reads)."""
    message = str(error.get("message") or "")
    data = error.get("data")
    if isinstance(data, Mapping) and isinstance(data.get("type"), str):
        return data["type"], message
    errors = error.get("errors")
    if (
        isinstance(errors, list)
        and errors
        and isinstance(errors[0], Mapping)
        and isinstance(errors[0].get("name"), str)
    ):
        return errors[0]["name"], message or str(errors[0].get("message") or "")
    return str(error.get("name") or "UnknownError"), message


class _Session:
    """The JSON-RPC calls of one step: authenticates when needed, at most once per step."""

    def __init__(self, client: EgressClient, connection: Mapping[str, Any], credentials: Mapping[str, Any]) -> None:
        self._client = client
        configured = text_setting(connection, "server", "connection")
        parts = urlsplit(configured if "//" in configured else f"https://{configured}")
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise SettingInvalid("connection.server must be a host name (my.geotab.com) or an http(s) URL")
        self._scheme, self._home = parts.scheme, parts.netloc
        self.database = text_setting(connection, "database", "connection")
        self.user = text_setting(credentials, "userName", "credentials")
        self._credentials = credentials
        self.session_id = credentials.get("sessionId") if isinstance(credentials.get("sessionId"), str) else None
        path = credentials.get("path")
        self.path = path if isinstance(path, str) and path else THIS_SERVER
        self.calls = 0
        self.renewed = False  #: a new session (or path) to write back

    @property
    def server(self) -> str:
        return self._home if self.path == THIS_SERVER else self.path

    def call(self, method: str, params: dict[str, Any]) -> Any:
        if self.session_id is None:
            self.authenticate()
        try:
            return self._rpc(self.server, method, {**params, "credentials": self._session_params()})
        except _RpcError as exc:
            if exc.type != "InvalidUserException" or self.renewed:
                raise exc.as_provider_error() from None
        self.authenticate()  # the cached session expired: once
        try:
            return self._rpc(self.server, method, {**params, "credentials": self._session_params()})
        except _RpcError as exc:
            raise exc.as_provider_error() from None

    def authenticate(self) -> None:
        password = text_setting(self._credentials, "password", "credentials")
        try:
            # always at the configured server: it answers the path to the database's server
            result = self._rpc(
                self._home, "Authenticate", {"database": self.database, "userName": self.user, "password": password}
            )
        except _RpcError as exc:
            if exc.type == "InvalidUserException":
                raise ProviderAuthFailed(f"Geotab refused user {self.user!r} on database {self.database!r}") from None
            if exc.type == "DbUnavailableException" and "UnknownDatabase" in exc.message:
                raise SettingInvalid(f"Geotab does not know the database {self.database!r}") from None
            raise exc.as_provider_error() from None
        if not isinstance(result, Mapping) or not isinstance(result.get("credentials"), Mapping):
            raise ProviderUnavailable("Geotab's Authenticate answer has no credentials")
        session = result["credentials"].get("sessionId")
        if not isinstance(session, str) or not session:
            raise ProviderUnavailable("Geotab's Authenticate answer has no sessionId")
        path = result.get("path") or THIS_SERVER
        if not isinstance(path, str) or (path != THIS_SERVER and not _SERVER_NAME.match(path)):
            raise EgressRefused(f"Geotab redirected to {str(path)[:100]!r}, which is not a server name")
        database = result["credentials"].get("database")
        if isinstance(database, str) and database:
            self.database = database
        self.session_id, self.path, self.renewed = session, path, True

    def write_back(self) -> dict[str, Any] | None:
        if not self.renewed:
            return None
        return {**self._credentials, "sessionId": self.session_id, "path": self.path}

    def _session_params(self) -> dict[str, Any]:
        return {"database": self.database, "userName": self.user, "sessionId": self.session_id}

    def _rpc(self, server: str, method: str, params: dict[str, Any]) -> Any:
        self.calls += 1
        answer = self._client.request(
            "POST", f"{self._scheme}://{server}/apiv1", json={"id": -1, "method": method, "params": params}
        )
        try:
            body = answer.json()
        except ProviderUnavailable:
            refuse_status(answer, "Geotab")
            raise
        if isinstance(body, Mapping) and isinstance(body.get("error"), Mapping):
            kind, message = error_type(body["error"])
            raise _RpcError(kind, message, answer)
        refuse_status(answer, "Geotab")
        if not isinstance(body, Mapping) or "result" not in body:
            raise ProviderUnavailable(f"Geotab's {method} answer has no result")
        return body["result"]


class GeotabConnector:
    provider = "geotab"

    def __init__(self, client: EgressClient) -> None:
        self._client = client

    def pull(self, request: PullRequest) -> PullPage:
        feeds = request.connection.get("feeds") or ["StatusData"]
        if not isinstance(feeds, list) or not all(isinstance(f, str) and f for f in feeds):
            raise SettingInvalid("connection.feeds must be a list of feed type names (StatusData, LogRecord, ...)")
        limit = int_setting(request.connection, "resultsLimit", MAX_RESULTS, 1, MAX_RESULTS)
        session = _Session(self._client, request.connection, request.credentials)
        cursor = request.cursor or {}
        versions = {k: v for k, v in dict(cursor.get("feeds") or {}).items() if isinstance(v, str)}
        turn: str = cursor["next"] if cursor.get("next") in feeds else feeds[0]
        params: dict[str, Any] = {"typeName": turn, "resultsLimit": limit}
        if versions.get(turn):
            params["fromVersion"] = versions[turn]
        else:
            params["search"] = {"fromDate": iso_utc(request.start_ms)}
        result = session.call("GetFeed", params)
        data = result.get("data") if isinstance(result, Mapping) else None
        to_version = result.get("toVersion") if isinstance(result, Mapping) else None
        if not isinstance(data, list) or not isinstance(to_version, str | None):
            raise ProviderUnavailable("Geotab's GetFeed answer has no data list")
        if to_version:
            versions[turn] = to_version
        full = len(data) >= limit
        index = feeds.index(turn)
        following = turn if full else feeds[(index + 1) % len(feeds)]
        return PullPage(
            records=[ProviderRecord(turn, item) for item in data if isinstance(item, Mapping)],
            cursor={"feeds": versions, "next": following},
            more=full or index + 1 < len(feeds),
            credentials=session.write_back(),
            calls=session.calls,
        )
