"""A fake MyGeotab server: JSON-RPC over ``POST /apiv1`` (INTEGRATIONS.md §2 and §6).

Methods: ``Authenticate`` (``path`` = "ThisServer", or another fake's host with ``redirect_to``),
``GetFeed`` (records after ``fromVersion``, at most ``resultsLimit``; ``toVersion`` = the last
one's version, unchanged when nothing is new; first call by ``search.fromDate``), ``Get`` of
``Device`` / ``Diagnostic``. Errors are JSON-RPC errors carrying both shapes the clients read
(``error.data.type`` and ``error.errors[0].name``) unless ``error_shape`` narrows it.
"""

from __future__ import annotations

import secrets
import uuid
from typing import Any

from devstack.fakes.base import Call, FakeProvider, Reply, _seconds, iso, parse_iso_ms

MAX_RESULTS = 50_000
SOC = "DiagnosticStateOfChargeId"
ODOMETER = "DiagnosticOdometerId"


def version(n: int) -> str:
    """Geotab versions are opaque strings; the fake's are 16 hex digits, ordered."""
    return f"{n:016x}"


class GeotabFake(FakeProvider):
    name = "geotab"

    def __init__(
        self,
        host: str = "127.0.0.1",
        *,
        database: str = "demo",
        user: str = "ops@example.com",
        password: str = "s3cret",
    ) -> None:
        super().__init__(host)
        self.database = database
        self.users = {(database, user): password}
        self.sessions: dict[str, tuple[str, str]] = {}
        self.feeds: dict[str, list[dict[str, Any]]] = {"StatusData": [], "LogRecord": [], "FaultData": []}
        self.devices = [{"id": f"b{i}", "name": f"Truck {i}", "serialNumber": f"G9{i:010d}"} for i in (1, 2, 3)]
        self.diagnostics = [{"id": SOC, "name": "State of charge"}, {"id": ODOMETER, "name": "Odometer"}]
        self._version = 0
        #: another fake this one sends clients to (Authenticate answers its host as ``path``)
        self.redirect_to: GeotabFake | None = None
        #: a ``path`` answered as it is (e.g. a metadata address, for the egress tests)
        self.redirect_path: str | None = None
        #: "both" | "data" (only error.data.type) | "errors" (only error.errors[0].name)
        self.error_shape = "both"
        #: the HTTP status of JSON-RPC errors (not documented: 200 by default)
        self.error_status = 200

    # -- knobs ------------------------------------------------------------------------------------
    def expire_session(self) -> None:
        with self._lock:
            self.sessions.clear()
            if self.redirect_to is not None:
                self.redirect_to.expire_session()

    def seed(self, start_ms: int, minutes: int = 60, devices: list[str] | None = None, step_s: int = 60) -> None:
        """Each device reports state of charge, odometer and a LogRecord every ``step_s`` seconds."""
        with self._lock:
            for i in range(minutes * 60 // step_s):
                at = start_ms + i * step_s * 1000
                for n, device in enumerate(devices or [d["id"] for d in self.devices]):
                    soc = round(90.0 - (i % 80) * 0.5 - n, 1)
                    odo = 120_000.0 + n * 10_000 + i * 800.0
                    self.add(
                        "StatusData",
                        {"data": soc, "dateTime": iso(at), "device": {"id": device}, "diagnostic": {"id": SOC}},
                    )
                    self.add(
                        "StatusData",
                        {"data": odo, "dateTime": iso(at), "device": {"id": device}, "diagnostic": {"id": ODOMETER}},
                    )
                    self.add(
                        "LogRecord",
                        {
                            "dateTime": iso(at),
                            "device": {"id": device},
                            "latitude": 43.45 + i * 1e-4,
                            "longitude": -79.68 - n * 1e-3,
                            "speed": float(40 + i % 30),
                        },
                    )

    def add(self, type_name: str, record: dict[str, Any]) -> dict[str, Any]:
        with self._lock:
            self._version += 1
            item = {"id": f"a{uuid.uuid4().hex[:10]}", **record, "version": version(self._version)}
            self.feeds.setdefault(type_name, []).append(item)
            return item

    def sign_webhook(self, secret: str, body: bytes) -> dict[str, str]:
        raise NotImplementedError("Geotab sends no webhooks: the data feed is poll-only")

    # -- protocol ---------------------------------------------------------------------------------
    def error(self, error_type: str, message: str) -> dict[str, Any]:
        error: dict[str, Any] = {"code": -32000, "message": message}
        if self.error_shape in ("both", "data"):
            error["data"] = {"id": str(uuid.uuid4()), "type": error_type, "requestIndex": 0}
        if self.error_shape in ("both", "errors"):
            error["errors"] = [{"name": error_type, "message": message}]
        return {"error": error, "jsonrpc": "2.0", "requestIndex": 0}

    def failure(self, fault: int | str, call: Call) -> Reply:
        if isinstance(fault, int):
            return super().failure(fault, call)
        return Reply(self.error_status, self.error(fault, f"fake {fault}"))

    def throttled(self, retry_after: float, call: Call) -> Reply:
        body = self.error(
            "OverLimitException",
            f"API calls quota exceeded. Maximum admitted 1 per 1s. Retry after {_seconds(retry_after)}s",
        )
        return Reply(self.error_status, body, {"Retry-After": _seconds(retry_after)})

    def route(self, call: Call) -> Reply:
        if call.method != "POST" or call.path != "/apiv1":
            return Reply(404, b"")
        request = call.body if isinstance(call.body, dict) else {}
        method, params = request.get("method"), request.get("params") or {}
        if method == "Authenticate":
            return self._authenticate(params)
        who = self._session(params.get("credentials") or {})
        if who is None:
            return Reply(self.error_status, self.error("InvalidUserException", "Incorrect login credentials"))
        if method == "GetFeed":
            return self._get_feed(params)
        if method == "Get":
            type_name = params.get("typeName")
            items = {"Device": self.devices, "Diagnostic": self.diagnostics}.get(str(type_name))
            if items is None:
                return Reply(self.error_status, self.error("ArgumentException", f"Unknown type {type_name}"))
            return Reply(200, {"result": items, "jsonrpc": "2.0"})
        return Reply(
            self.error_status, self.error("MissingMethodException", f"The method '{method}' could not be found")
        )

    def _authenticate(self, params: dict[str, Any]) -> Reply:
        key = (params.get("database"), params.get("userName"))
        if key not in self.users or self.users[key] != params.get("password"):
            return Reply(self.error_status, self.error("InvalidUserException", "Incorrect login credentials"))
        session = secrets.token_urlsafe(16)
        home = self.redirect_to or self
        home._register(session, key)  # the session is valid on the server the client is sent to
        credentials = {"database": key[0], "userName": key[1], "sessionId": session}
        path = self.redirect_path or ("ThisServer" if self.redirect_to is None else self.redirect_to.hostport)
        return Reply(200, {"result": {"credentials": credentials, "path": path}, "jsonrpc": "2.0"})

    def _register(self, session: str, key: tuple[Any, Any]) -> None:
        with self._lock:
            self.sessions[session] = key  # type: ignore[assignment]

    def _session(self, credentials: dict[str, Any]) -> tuple[str, str] | None:
        who = self.sessions.get(str(credentials.get("sessionId")))
        if who is None or who != (credentials.get("database"), credentials.get("userName")):
            return None
        return who

    def _get_feed(self, params: dict[str, Any]) -> Reply:
        type_name = str(params.get("typeName"))
        if type_name not in self.feeds:
            return Reply(self.error_status, self.error("ArgumentException", f"Type '{type_name}' is not a feed type"))
        items = self.feeds[type_name]
        limit = min(int(params.get("resultsLimit") or MAX_RESULTS), MAX_RESULTS)
        from_version = params.get("fromVersion")
        if from_version:
            chosen = [r for r in items if r["version"] > from_version]
            last = from_version
        else:  # a first call: by date (ignored once a version is given)
            from_date = (params.get("search") or {}).get("fromDate")
            since = parse_iso_ms(from_date) if from_date else 0
            chosen = [r for r in items if parse_iso_ms(r["dateTime"]) >= since]
            last = version(self._version)
        page = chosen[:limit]
        to_version = page[-1]["version"] if page else last
        return Reply(200, {"result": {"data": page, "toVersion": to_version}, "jsonrpc": "2.0"})
