"""The HTTP server: threads per connection, keep-alive, a listen backlog for bursts, 413 early."""

from __future__ import annotations

import logging
import time
import traceback
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any

from .messages import MAX_BODY_BYTES, IncomingRequest, OutgoingResponse

if TYPE_CHECKING:
    from .app import LocalGateway

log = logging.getLogger("devstack.gateway")
access_log = logging.getLogger("devstack.access")


class GatewayServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    # socketserver's default listen backlog is 5: a burst of connects overflows it and the kernel
    # resets them. One thread per connection serves keep-alive clients; the backlog covers a burst
    # of at least 64 simultaneous connects (the kernel caps it at net.core.somaxconn).
    request_queue_size = 1024
    gateway: LocalGateway


class _BodyTooLargeError(Exception):
    pass


class RequestHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # Headers and body leave in one segment (flushed by handle_one_request) and without Nagle:
    # otherwise keep-alive clients see ~40 ms delayed-ACK stalls per request.
    wbufsize = 64 * 1024
    disable_nagle_algorithm = True
    server: GatewayServer

    def log_message(self, format: str, *args: Any) -> None:
        log.debug("%s - %s", self.address_string(), format % args)

    def _content_length(self) -> int:
        try:
            return int(self.headers.get("Content-Length") or 0)
        except ValueError:
            return 0

    def handle_expect_100(self) -> bool:
        if self._content_length() > MAX_BODY_BYTES:
            self._too_large()
            return False
        return super().handle_expect_100()

    def _too_large(self) -> None:
        gw = self.server.gateway
        started = time.monotonic()
        req = IncomingRequest(
            self.command, self.path.split("?")[0], "", list(self.headers.items()), b"", self.client_address[0]
        )
        resp = gw.gateway_response("REQUEST_TOO_LARGE", gw._default_api(), req, str(uuid.uuid4()))
        self.close_connection = True
        self._send(resp, started, close=True)

    def _read_body(self) -> bytes:
        if "chunked" in (self.headers.get("Transfer-Encoding") or "").lower():
            chunks: list[bytes] = []
            total = 0
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    return b"".join(chunks)
                total += size
                if total > MAX_BODY_BYTES:
                    raise _BodyTooLargeError
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
        length = self._content_length()
        if length > MAX_BODY_BYTES:
            raise _BodyTooLargeError
        return self.rfile.read(length) if length else b""

    def _handle(self) -> None:
        started = time.monotonic()
        try:
            body = self._read_body()
        except _BodyTooLargeError:
            self._too_large()
            return
        raw_path, _, query = self.path.partition("?")
        request = IncomingRequest(
            method=self.command,
            path=raw_path,
            query=query,
            headers=list(self.headers.items()),
            body=body,
            source_ip=self.client_address[0],
            protocol=self.request_version,
        )
        try:
            response = self.server.gateway.handle(request)
        except Exception:  # a bug in the gateway itself: never leak it to the client
            log.error("gateway error:\n%s", traceback.format_exc().rstrip())
            response = OutgoingResponse(
                500, [("Content-Type", "application/json")], b'{"message": "Internal server error"}'
            )
        self._send(response, started)

    def _send(self, response: OutgoingResponse, started: float, close: bool = False) -> None:
        self.send_response_only(response.status)
        self.send_header("Date", self.date_time_string())
        for name, value in response.headers:
            if name.lower() not in ("content-length", "connection", "transfer-encoding", "date"):
                self.send_header(name, value)
        self.send_header("Content-Length", str(len(response.body)))
        if close:
            self.send_header("Connection", "close")
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(response.body)
        self.wfile.flush()
        elapsed_ms = (time.monotonic() - started) * 1000
        access_log.info(
            '%s "%s %s %s" %d %d %.1fms %s%s',
            self.client_address[0],
            self.command,
            self.path,
            self.request_version,
            response.status,
            len(response.body),
            elapsed_ms,
            response.function_id or "-",
            f" ({response.note})" if response.note else "",
        )

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_OPTIONS = _handle

    def __getattr__(self, name: str) -> Any:
        """Any other method (TRACE, CONNECT, a made-up token) goes through the gateway too, which
        answers it as API Gateway does a method no route declares: MISSING_AUTHENTICATION_TOKEN,
        a 404 problem+json (template.yaml), not http.server's 501 HTML page."""
        if name.startswith("do_") and name[3:].isalpha():
            return self._handle
        raise AttributeError(name)
