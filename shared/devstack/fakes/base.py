"""What every provider fake shares: a real HTTP server on a free local port, a call log, and the
fault knobs (docs/integrations.md, "Local fakes")."""

from __future__ import annotations

import threading
import time
from collections import deque
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

import orjson


@dataclass(frozen=True)
class Call:
    """One request the fake received (the call log)."""

    at_s: float  #: wall clock (time.time()) when it arrived
    method: str
    path: str
    params: dict[str, str]
    headers: dict[str, str]  #: lower-case names
    body: Any  #: parsed JSON (a form body: a dict of its fields), or None


@dataclass
class Reply:
    status: int
    body: Any = None  #: JSON-serialisable, or bytes sent as they are
    headers: dict[str, str] = field(default_factory=dict)


def iso(ms: int, offset: str = "Z") -> str:
    """Epoch ms as ISO 8601 (UTC with ``Z``), millisecond precision."""
    text = datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3]
    return text + offset


def parse_iso_ms(text: str) -> int:
    return int(datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp() * 1000)


class FakeServer(ThreadingHTTPServer):
    """A client that hangs up mid-answer (the response-cap and timeout tests do, on purpose) is not
    an error of the fake: no traceback for it. Anything else is printed as socketserver does."""

    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        import sys

        if isinstance(sys.exc_info()[1], ConnectionError):  # BrokenPipe, ConnectionReset/Aborted
            return
        super().handle_error(request, client_address)


class FakeProvider:
    """Base of the fakes. Subclasses implement :meth:`route` (``self._lock`` is held)."""

    #: what :meth:`fail_next` with a string means for this provider (Geotab: an error type)
    name = "fake"

    def __init__(self, host: str = "127.0.0.1") -> None:
        self.calls: list[Call] = []
        self._lock = threading.RLock()
        self._faults: deque[tuple[str, Any]] = deque()
        self.throttled_until_s = 0.0
        self._retry_after_s = 0.0
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _serve(self) -> None:
                length = int(self.headers.get("content-length") or 0)
                raw = self.rfile.read(length) if length else b""
                fake._answer(self, raw)

            do_GET = do_POST = _serve

            def log_message(self, format: str, *args: Any) -> None:  # quiet
                pass

        self._server = FakeServer((host, 0), Handler)
        self._thread = threading.Thread(
            target=self._server.serve_forever, args=(0.05,), name=f"fake-{self.name}", daemon=True
        )
        self.host = host
        self.port = int(self._server.server_address[1])

    # -- life cycle -------------------------------------------------------------------------------
    @property
    def hostport(self) -> str:
        return f"{self.host}:{self.port}"

    @property
    def url(self) -> str:
        """The base URL a connection's ``baseUrl`` / ``server`` points at."""
        return f"http://{self.hostport}"

    def start(self) -> FakeProvider:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    # -- knobs ------------------------------------------------------------------------------------
    def fail_next(self, fault: int | str, times: int = 1) -> None:
        """The next ``times`` calls fail: an HTTP status (500, 503, 401...) or a provider error type."""
        with self._lock:
            self._faults.extend([("fail", fault)] * times)

    def throttle_next(self, retry_after: float) -> None:
        """The next call is throttled with ``Retry-After: retry_after``; like the real providers, every
        call before that moment is throttled again."""
        with self._lock:
            self._faults.append(("throttle", retry_after))

    def oversize_next(self, n_bytes: int, announce: bool = False) -> None:
        """The next call answers a JSON body of ``n_bytes`` (the response-cap tests): chunked, with no
        length up front (the reader must stop by itself), or with ``Content-Length`` if ``announce``."""
        with self._lock:
            self._faults.append(("oversize", (n_bytes, announce)))

    def drip_next(self, chunks: int, every_s: float) -> None:
        """The next call answers a chunked body, one small chunk every ``every_s`` seconds (each read
        is quick, the whole answer is slow: the total-deadline tests)."""
        with self._lock:
            self._faults.append(("drip", (chunks, every_s)))

    def delay_next(self, seconds: float) -> None:
        """The next call waits ``seconds`` before answering (the timeout tests)."""
        with self._lock:
            self._faults.append(("delay", seconds))

    def redirect_next(self, location: str) -> None:
        """The next call answers ``302 Location: location`` (redirects must not be followed)."""
        with self._lock:
            self._faults.append(("redirect", location))

    def expire_session(self) -> None:
        """Forget every session / token issued so far (providers with sessions override)."""

    def calls_to(self, path_or_method: str) -> list[Call]:
        with self._lock:
            return [
                c
                for c in self.calls
                if path_or_method in (c.path, (c.body or {}).get("method") if isinstance(c.body, dict) else None)
            ]

    def reset_calls(self) -> None:
        with self._lock:
            self.calls.clear()

    # -- to override ------------------------------------------------------------------------------
    def route(self, call: Call) -> Reply:
        raise NotImplementedError

    def failure(self, fault: int | str, call: Call) -> Reply:
        """The answer of a ``fail_next`` fault; providers with error types override."""
        status = int(fault)
        return Reply(status, b"" if status in (401, 403, 404) else {"error": f"fake failure {status}"})

    def throttled(self, retry_after: float, call: Call) -> Reply:
        return Reply(429, b"", {"Retry-After": _seconds(retry_after)})

    # -- plumbing ---------------------------------------------------------------------------------
    def _answer(self, handler: BaseHTTPRequestHandler, raw: bytes) -> None:
        parts = urlsplit(handler.path)
        params = {k: v[-1] for k, v in parse_qs(parts.query, keep_blank_values=True).items()}
        body: Any = None
        if raw and "application/x-www-form-urlencoded" in (handler.headers.get("content-type") or ""):
            body = {k: v[-1] for k, v in parse_qs(raw.decode("utf-8", "replace"), keep_blank_values=True).items()}
        elif raw:
            try:
                body = orjson.loads(raw)
            except orjson.JSONDecodeError:
                body = None
        call = Call(
            time.time(), handler.command, parts.path, params, {k.lower(): v for k, v in handler.headers.items()}, body
        )
        delay = 0.0
        with self._lock:
            self.calls.append(call)
            reply = self._fault_reply(call)
            if isinstance(reply, float):
                delay, reply = reply, None
            if reply is None and time.time() < self.throttled_until_s:
                reply = self.throttled(self._retry_after_s, call)
        if delay:
            time.sleep(delay)
        if reply is None:
            with self._lock:
                reply = self.route(call)
        self._send(handler, reply)

    def _fault_reply(self, call: Call) -> Reply | float | None:
        if not self._faults:
            return None
        kind, value = self._faults.popleft()
        if kind == "fail":
            return self.failure(value, call)
        if kind == "throttle":
            self._retry_after_s = float(value)
            self.throttled_until_s = call.at_s + float(value)
            return self.throttled(float(value), call)
        if kind == "oversize":
            n_bytes, announce = value
            body = b'{"pad":"' + b"x" * max(0, n_bytes - 10) + b'"}'
            return Reply(200, body, {} if announce else {_CHUNKED: "1"})
        if kind == "drip":
            chunks, every_s = value
            return Reply(200, b'{"pad":"' + b"x" * 1000 * chunks + b'"}', {_CHUNKED: "1", _DRIP: str(every_s)})
        if kind == "redirect":
            return Reply(302, b"", {"Location": str(value)})
        return float(value)  # delay

    @staticmethod
    def _send(handler: BaseHTTPRequestHandler, reply: Reply) -> None:
        payload = reply.body if isinstance(reply.body, bytes) else orjson.dumps(reply.body)
        headers = {"Content-Type": "application/json", **reply.headers} if payload else dict(reply.headers)
        chunked = headers.pop(_CHUNKED, None) is not None
        drip = float(headers.pop(_DRIP, 0))
        handler.send_response(reply.status)
        for name, value in headers.items():
            handler.send_header(name, value)
        if chunked:
            handler.send_header("Transfer-Encoding", "chunked")
        else:
            handler.send_header("Content-Length", str(len(payload)))
        handler.end_headers()
        try:
            if not chunked:
                handler.wfile.write(payload)
                return
            step = 1000 if drip else 65536
            for i in range(0, len(payload), step):
                piece = payload[i : i + step]
                handler.wfile.write(b"%x\r\n%s\r\n" % (len(piece), piece))
                if drip:
                    handler.wfile.flush()
                    time.sleep(drip)
            handler.wfile.write(b"0\r\n\r\n")
        except (BrokenPipeError, ConnectionResetError):  # the client stopped reading (the response cap)
            handler.close_connection = True


_CHUNKED = "X-Fake-Chunked"  # internal marker: send the body chunked, no Content-Length
_DRIP = "X-Fake-Drip"  # internal marker: seconds between chunks


def _seconds(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else str(value)


def page_after(
    items: list[dict[str, Any]], key: str, cursor: str | None, size: int
) -> tuple[list[dict[str, Any]], str | None]:
    """``size`` items starting at the one whose ``key`` is ``cursor`` (inclusive), and the next cursor."""
    start = 0
    if cursor:
        start = next((i for i, item in enumerate(items) if item[key] == cursor), len(items))
    chunk = items[start : start + size]
    following = items[start + size] if start + size < len(items) else None
    return chunk, None if following is None else str(following[key])
