"""A local API Gateway (REST API, Lambda proxy payload 1.0) in front of the template's functions.

Routes, the Lambda authorizer and gateway responses come from the template. Behaviour follows
API Gateway's REST APIs where it is observable by a client or a handler:

* routing: literal segments beat ``{param}`` beats ``{proxy+}``; a trailing slash is ignored;
  unknown path or method -> ``MISSING_AUTHENTICATION_TOKEN`` (403 unless the template's gateway
  response says otherwise; ours: a 404 problem); requests may also carry the
  ``/<stage>`` prefix of the deployed URL;
* ``path`` and ``pathParameters`` stay percent-encoded, query parameters are decoded;
* REQUEST/TOKEN authorizers: identity sources must carry exactly one non-empty value or the answer is
  401 without calling the authorizer; ``Unauthorized`` -> 401; other errors and malformed
  results -> 500 ``AUTHORIZER_CONFIGURATION_ERROR``; the policy is evaluated against the
  methodArn (explicit Deny wins, no Allow -> 403); results are cached per identity value for
  ``ReauthorizeEvery`` seconds and a cached policy is re-evaluated against each new methodArn;
  context values reach the handler stringified, plus ``principalId`` and ``integrationLatency``;
* bodies over 10 MB -> 413 ``REQUEST_TOO_LARGE``; a handler exception or a malformed proxy
  result -> 502 ``{"message": "Internal server error"}`` (traceback to stderr only).
"""

from __future__ import annotations

import base64
import json
import logging
import re
import threading
import time
import traceback
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl

from .lambdas import LocalFunction
from .template import ACCOUNT_ID, REGION, ApiSpec, AuthorizerSpec, GatewayResponse, Route, Template

log = logging.getLogger("devstack.gateway")
access_log = logging.getLogger("devstack.access")

MAX_BODY_BYTES = 10 * 1024 * 1024

# API Gateway's built-in gateway responses: type -> (status, body, x-amzn-ErrorType)
DEFAULT_GATEWAY_RESPONSES: dict[str, tuple[int, str, str]] = {
    "UNAUTHORIZED": (401, '{"message":"Unauthorized"}', "UnauthorizedException"),
    "ACCESS_DENIED": (
        403,
        '{"Message":"User is not authorized to access this resource with an explicit deny"}',
        "AccessDeniedException",
    ),
    "MISSING_AUTHENTICATION_TOKEN": (
        403,
        '{"message":"Missing Authentication Token"}',
        "MissingAuthenticationTokenException",
    ),
    "AUTHORIZER_CONFIGURATION_ERROR": (500, '{"message": null}', "AuthorizerConfigurationException"),
    "AUTHORIZER_FAILURE": (500, '{"message": null}', "AuthorizerFailureException"),
    "REQUEST_TOO_LARGE": (413, '{"message":"Request Too Long"}', "RequestTooLargeException"),
    # Not a gateway response type: what a Lambda proxy integration error looks like.
    "LAMBDA_ERROR": (502, '{"message": "Internal server error"}', "InternalServerErrorException"),
}


# --------------------------------------------------------------------------- routing


@dataclass(frozen=True)
class CompiledRoute:
    route: Route
    segments: tuple[str, ...]

    @classmethod
    def of(cls, route: Route) -> CompiledRoute:
        return cls(route, tuple(s for s in route.path.split("/") if s))

    @property
    def rank(self) -> tuple[int, ...]:
        """Lower is more specific: literal 0, {param} 1, {proxy+} 2, per segment."""
        return tuple(2 if s.endswith("+}") else 1 if s.startswith("{") else 0 for s in self.segments)

    def match(self, parts: list[str]) -> dict[str, str] | None:
        params: dict[str, str] = {}
        for i, seg in enumerate(self.segments):
            if seg.startswith("{") and seg.endswith("+}"):
                rest = parts[i:]
                if not rest:
                    return None
                params[seg[1:-2]] = "/".join(rest)
                return params
            if i >= len(parts):
                return None
            if seg.startswith("{") and seg.endswith("}"):
                params[seg[1:-1]] = parts[i]
            elif seg != parts[i]:
                return None
        return params if len(parts) == len(self.segments) else None


class Router:
    def __init__(self, routes: list[Route]) -> None:
        self.routes = [CompiledRoute.of(r) for r in routes]

    def resolve(self, path: str, method: str) -> tuple[Route, dict[str, str]] | None:
        """Pick the most specific resource for ``path``, then its method (or ANY)."""
        parts = [p for p in path.split("/") if p]
        matches = [(c, p) for c in self.routes if (p := c.match(parts)) is not None]
        if not matches:
            return None
        best_rank = min(c.rank for c, _ in matches)
        on_resource = [(c, p) for c, p in matches if c.rank == best_rank]
        for wanted in (method, "ANY"):
            for c, p in on_resource:
                if c.route.method == wanted:
                    return c.route, p
        return None

    def has_path(self, path: str) -> bool:
        parts = [p for p in path.split("/") if p]
        return any(c.match(parts) is not None for c in self.routes)


# --------------------------------------------------------------------------- requests, responses


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


@dataclass
class _CacheEntry:
    expires: float
    principal_id: Any
    statements: list[dict[str, Any]]
    context: dict[str, Any]


@dataclass
class _AuthResult:
    authorizer: dict[str, Any] | None = None
    denied: OutgoingResponse | None = None


@dataclass
class AuthorizerCache:
    """API Gateway's authorizer result cache: key = (authorizer, identity values)."""

    entries: dict[tuple[str, tuple[str, ...]], _CacheEntry] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def get(self, key: tuple[str, tuple[str, ...]]) -> _CacheEntry | None:
        with self.lock:
            entry = self.entries.get(key)
            if entry and entry.expires > time.monotonic():
                return entry
            self.entries.pop(key, None)
            return None

    def put(self, key: tuple[str, tuple[str, ...]], entry: _CacheEntry) -> None:
        with self.lock:
            self.entries[key] = entry

    def clear(self) -> None:
        with self.lock:
            self.entries.clear()


def _multi(pairs: list[tuple[str, str]]) -> tuple[dict[str, str] | None, dict[str, list[str]] | None]:
    """API Gateway's single-value (last wins) and multi-value maps; both None when empty."""
    if not pairs:
        return None, None
    single: dict[str, str] = {}
    multi: dict[str, list[str]] = {}
    for k, v in pairs:
        single[k] = v
        multi.setdefault(k, []).append(v)
    return single, multi


def _wildcard(pattern: str) -> re.Pattern[str]:
    return re.compile("^" + re.escape(pattern).replace(r"\*", ".*").replace(r"\?", ".") + "$")


def _as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def evaluate_policy(statements: list[dict[str, Any]], method_arn: str) -> str:
    """``allow``, ``deny`` (explicit) or ``implicit`` (no statement allows) for ``method_arn``."""
    allowed = False
    for st in statements:
        actions = [str(a) for a in _as_list(st.get("Action"))]
        if not any(_wildcard(a).match("execute-api:Invoke") for a in actions):
            continue
        if not any(_wildcard(str(r)).match(method_arn) for r in _as_list(st.get("Resource"))):
            continue
        effect = str(st.get("Effect", "")).lower()
        if effect == "deny":
            return "deny"
        if effect == "allow":
            allowed = True
    return "allow" if allowed else "implicit"


class _InvalidAuthorizerResultError(Exception):
    pass


def _parse_authorizer_result(result: Any) -> tuple[Any, list[dict[str, Any]], dict[str, Any]]:
    if not isinstance(result, dict) or "principalId" not in result:
        raise _InvalidAuthorizerResultError("result must be an object with principalId and policyDocument")
    policy = result.get("policyDocument")
    if not isinstance(policy, dict) or "Statement" not in policy:
        raise _InvalidAuthorizerResultError("policyDocument with Statement is required")
    statements = [s for s in _as_list(policy["Statement"]) if isinstance(s, dict)]
    context = result.get("context") or {}
    if not isinstance(context, dict):
        raise _InvalidAuthorizerResultError("context must be an object")
    for key, value in context.items():
        if isinstance(value, (dict, list)):
            raise _InvalidAuthorizerResultError(f"context[{key!r}] is an object/array; only scalars are allowed")
    return result["principalId"], statements, context


def _stringify_context(context: Mapping[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in context.items():
        if value is None:
            out[key] = None
        elif isinstance(value, bool):
            out[key] = "true" if value else "false"
        else:
            out[key] = str(value)
    return out


def identity_values(spec: AuthorizerSpec, request: IncomingRequest) -> tuple[str, ...] | None:
    """The identity source values, which are also the cache key; ``None`` means 401 unasked.

    Every source must carry exactly one non-empty value: a request with two API-key headers
    (``X-Api-Key`` and ``x-api-key``, or one repeated) is ambiguous, since the gateway's cache key
    and the authorizer's reading could name different keys (issue 8.9).
    """
    query = parse_qsl(request.query, keep_blank_values=True)
    found = [request.header_values(h) for h in spec.headers]
    found += [[v for k, v in query if k == q] for q in spec.query_strings]
    if not found or any(len(values) != 1 or values[0] == "" for values in found):
        return None
    return tuple(values[0] for values in found)


# --------------------------------------------------------------------------- the gateway


class LocalGateway:
    """Routes HTTP requests to functions as API Gateway would. ``handle`` is usable without HTTP."""

    def __init__(
        self,
        template: Template,
        functions: Mapping[str, LocalFunction],
        *,
        host: str = "127.0.0.1",
        port: int = 0,
    ) -> None:
        self.template = template
        self.functions = functions
        self.host = host
        self.port = port
        self.apis: dict[str, ApiSpec] = template.apis()
        self.api_ids = {api_id: template.physical_resource(api_id).ref for api_id in self.apis}
        self.router = Router(template.api_routes())
        self.cache = AuthorizerCache()
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    # ------------------------------------------------------------------ lifecycle

    def start(self) -> LocalGateway:
        self._server = _Server((self.host, self.port), _RequestHandler)
        self._server.gateway = self
        self.port = int(self._server.server_address[1])
        self._thread = threading.Thread(target=self._server.serve_forever, name="devstack-gateway", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    # ------------------------------------------------------------------ request handling

    def _default_api(self) -> ApiSpec | None:
        return next(iter(self.apis.values()), None)

    def gateway_response(
        self,
        rtype: str,
        api: ApiSpec | None,
        request: IncomingRequest,
        request_id: str,
        message: str | None = None,
    ) -> OutgoingResponse:
        """A gateway response: the template's, else its DEFAULT_4XX/5XX, else API Gateway's."""
        status, body, error_type = DEFAULT_GATEWAY_RESPONSES[rtype]
        configured: dict[str, GatewayResponse] = api.gateway_responses if api else {}
        spec = configured.get(rtype) or configured.get("DEFAULT_5XX" if status >= 500 else "DEFAULT_4XX")
        headers: list[tuple[str, str]] = []
        content_type = "application/json"
        if spec is not None:
            # A status on DEFAULT_4XX/5XX re-statuses every response falling back to it (AWS docs).
            if spec.status_code is not None:
                status = spec.status_code
            if "application/json" in spec.templates:
                body = spec.templates["application/json"]
            elif spec.templates:
                content_type, body = next(iter(spec.templates.items()))
            for name, expr in spec.headers.items():
                value = self._mapping_value(expr, request)
                if value is not None:
                    headers.append((name, value))
        error_message = (
            message if message is not None else json.loads(DEFAULT_GATEWAY_RESPONSES[rtype][1]).get("message")
        )
        body = (
            body.replace("$context.requestId", request_id)
            .replace("$context.error.messageString", json.dumps(error_message))
            .replace("$context.error.message", str(error_message))
            .replace("$context.error.responseType", rtype)
        )
        if not any(k.lower() == "content-type" for k, _ in headers):
            headers.insert(0, ("Content-Type", content_type))
        headers += [("x-amzn-RequestId", request_id), ("x-amzn-ErrorType", error_type)]
        return OutgoingResponse(status, headers, body.encode(), note=rtype)

    @staticmethod
    def _mapping_value(expr: str, request: IncomingRequest) -> str | None:
        if len(expr) >= 2 and expr.startswith("'") and expr.endswith("'"):
            return expr[1:-1]
        if expr.startswith("method.request.header."):
            return request.header(expr.removeprefix("method.request.header."))
        return None

    def handle(self, request: IncomingRequest) -> OutgoingResponse:
        request_id = str(uuid.uuid4())
        api = self._default_api()
        if len(request.body) > MAX_BODY_BYTES:
            return self.gateway_response("REQUEST_TOO_LARGE", api, request, request_id)
        path = request.path or "/"
        resolved = self.router.resolve(path, request.method)
        if resolved is None and api is not None and path.startswith(f"/{api.stage}/"):
            path = path[len(api.stage) + 1 :]
            resolved = self.router.resolve(path, request.method)
        if resolved is None:
            return self.gateway_response("MISSING_AUTHENTICATION_TOKEN", api, request, request_id)
        route, path_params = resolved
        api = self.apis.get(route.api_id, api)
        stage = api.stage if api else "Prod"
        api_id = self.api_ids.get(route.api_id, "localapi")
        method_arn = f"arn:aws:execute-api:{REGION}:{ACCOUNT_ID}:{api_id}/{stage}/{request.method}/{path.lstrip('/')}"
        event = self.proxy_event(request, route, path, path_params, stage, api_id, request_id)
        if route.authorizer is not None:
            auth = self.authorize(route, api, request, event, method_arn, request_id)
            if auth.denied is not None:
                return auth.denied
            event["requestContext"]["authorizer"] = auth.authorizer
        return self.integrate(route, api, request, event, request_id)

    def proxy_event(
        self,
        request: IncomingRequest,
        route: Route,
        path: str,
        path_params: dict[str, str],
        stage: str,
        api_id: str,
        request_id: str,
    ) -> dict[str, Any]:
        """The REST API (payload format 1.0) Lambda proxy event."""
        headers = list(request.headers)
        present = {k.lower() for k, _ in headers}
        for name, value in (
            ("X-Forwarded-For", request.source_ip),
            ("X-Forwarded-Proto", "http"),
            ("X-Forwarded-Port", str(self.port)),
        ):
            if name.lower() not in present:
                headers.append((name, value))
        single_h, multi_h = _multi(headers)
        single_q, multi_q = _multi(parse_qsl(request.query, keep_blank_values=True))
        now = datetime.now(UTC)
        body: str | None = None
        is_b64 = False
        if request.body:
            content_type = (request.header("Content-Type") or "").split(";")[0].strip()
            api = self.apis.get(route.api_id)
            binary = api is not None and any(
                _wildcard(t).match(content_type) for t in api.binary_media_types if content_type
            )
            if not binary:
                try:
                    body = request.body.decode("utf-8")
                except UnicodeDecodeError:
                    binary = True
            if binary:
                body, is_b64 = base64.b64encode(request.body).decode(), True
        return {
            "resource": route.path,
            "path": path,
            "httpMethod": request.method,
            "headers": single_h,
            "multiValueHeaders": multi_h,
            "queryStringParameters": single_q,
            "multiValueQueryStringParameters": multi_q,
            "pathParameters": path_params or None,
            "stageVariables": None,
            "requestContext": {
                "resourceId": re.sub(r"[^a-z0-9]", "", route.path.lower())[-6:] or "root",
                "resourcePath": route.path,
                "httpMethod": request.method,
                "extendedRequestId": request_id.replace("-", "")[:16] + "=",
                "requestTime": now.strftime("%d/%b/%Y:%H:%M:%S +0000"),
                "path": f"/{stage}{path}",
                "accountId": ACCOUNT_ID,
                "protocol": request.protocol,
                "stage": stage,
                "domainPrefix": api_id,
                "requestTimeEpoch": int(now.timestamp() * 1000),
                "requestId": request_id,
                "identity": {
                    "cognitoIdentityPoolId": None,
                    "accountId": None,
                    "cognitoIdentityId": None,
                    "caller": None,
                    "sourceIp": request.source_ip,
                    "principalOrgId": None,
                    "accessKey": None,
                    "cognitoAuthenticationType": None,
                    "cognitoAuthenticationProvider": None,
                    "userArn": None,
                    "userAgent": request.header("User-Agent"),
                    "user": None,
                },
                "domainName": request.header("Host") or f"{self.host}:{self.port}",
                "apiId": api_id,
            },
            "body": body,
            "isBase64Encoded": is_b64,
        }

    def authorize(
        self,
        route: Route,
        api: ApiSpec | None,
        request: IncomingRequest,
        event: dict[str, Any],
        method_arn: str,
        request_id: str,
    ) -> _AuthResult:
        spec: AuthorizerSpec | None = api.authorizers.get(route.authorizer or "") if api else None
        if spec is None:
            log.error(
                "route %s %s names authorizer %r which the API does not define",
                route.method,
                route.path,
                route.authorizer,
            )
            return _AuthResult(denied=self.gateway_response("AUTHORIZER_CONFIGURATION_ERROR", api, request, request_id))
        unauthorized = _AuthResult(denied=self.gateway_response("UNAUTHORIZED", api, request, request_id))
        identity = identity_values(spec, request)
        if identity is None:
            return unauthorized
        if (
            spec.payload_type == "TOKEN"
            and spec.validation_expression
            and not re.fullmatch(spec.validation_expression, identity[0])
        ):
            return unauthorized
        key = (f"{spec.api_id}/{spec.name}", identity)
        entry = self.cache.get(key) if spec.reauthorize_every > 0 else None
        latency = 0
        if entry is None:
            function = self.functions.get(spec.function_id)
            if function is None:
                log.error("authorizer function %s is not loaded", spec.function_id)
                return _AuthResult(
                    denied=self.gateway_response("AUTHORIZER_CONFIGURATION_ERROR", api, request, request_id)
                )
            if spec.payload_type == "TOKEN":
                auth_event: dict[str, Any] = {
                    "type": "TOKEN",
                    "authorizationToken": identity[0],
                    "methodArn": method_arn,
                }
            else:
                auth_event = {
                    "type": "REQUEST",
                    "methodArn": method_arn,
                    **{
                        k: event[k]
                        for k in (
                            "resource",
                            "path",
                            "httpMethod",
                            "headers",
                            "multiValueHeaders",
                            "queryStringParameters",
                            "multiValueQueryStringParameters",
                            "pathParameters",
                            "stageVariables",
                            "requestContext",
                        )
                    },
                }
            started = time.monotonic()
            try:
                result = function.invoke(auth_event)
                principal, statements, context = _parse_authorizer_result(result)
            except _InvalidAuthorizerResultError as exc:
                log.error("authorizer %s returned an invalid result: %s", spec.function_id, exc)
                return _AuthResult(
                    denied=self.gateway_response("AUTHORIZER_CONFIGURATION_ERROR", api, request, request_id)
                )
            except Exception as exc:
                if str(exc) == "Unauthorized":
                    return unauthorized
                log.error("authorizer %s failed:\n%s", spec.function_id, traceback.format_exc().rstrip())
                return _AuthResult(
                    denied=self.gateway_response("AUTHORIZER_CONFIGURATION_ERROR", api, request, request_id)
                )
            latency = int((time.monotonic() - started) * 1000)
            entry = _CacheEntry(time.monotonic() + spec.reauthorize_every, principal, statements, context)
            if spec.reauthorize_every > 0:
                self.cache.put(key, entry)
        verdict = evaluate_policy(entry.statements, method_arn)
        if verdict != "allow":
            message = (
                "User is not authorized to access this resource with an explicit deny"
                if verdict == "deny"
                else "User is not authorized to access this resource"
            )
            return _AuthResult(denied=self.gateway_response("ACCESS_DENIED", api, request, request_id, message))
        context = _stringify_context(entry.context)
        context["principalId"] = entry.principal_id
        context["integrationLatency"] = latency
        return _AuthResult(authorizer=context)

    def integrate(
        self,
        route: Route,
        api: ApiSpec | None,
        request: IncomingRequest,
        event: dict[str, Any],
        request_id: str,
    ) -> OutgoingResponse:
        function = self.functions.get(route.function_id)
        if function is None:
            log.error("%s is not loaded (see the warning at start-up); answering 502", route.function_id)
            response = self.gateway_response("LAMBDA_ERROR", api, request, request_id)
        else:
            try:
                result = function.invoke(event, request_id=request_id)
                response = self._proxy_response(result, request_id)
            except Exception:
                log.error("%s raised (request %s):\n%s", route.function_id, request_id, traceback.format_exc().rstrip())
                response = self.gateway_response("LAMBDA_ERROR", api, request, request_id)
        response.function_id = route.function_id
        return response

    def _proxy_response(self, result: Any, request_id: str) -> OutgoingResponse:
        if not isinstance(result, dict):
            raise ValueError(f"Malformed Lambda proxy response: expected an object, got {type(result).__name__}")
        status = result.get("statusCode")
        if isinstance(status, str) and status.isdigit():
            status = int(status)
        if not isinstance(status, int) or isinstance(status, bool):
            raise ValueError(f"Malformed Lambda proxy response: statusCode {status!r}")
        body = result.get("body")
        if body is not None and not isinstance(body, str):
            raise ValueError("Malformed Lambda proxy response: body must be a string")
        extra = set(result) - {"statusCode", "headers", "multiValueHeaders", "body", "isBase64Encoded", "cookies"}
        if extra:
            log.warning("proxy response has keys API Gateway ignores: %s", ", ".join(sorted(extra)))
        headers: list[tuple[str, str]] = []
        seen: set[str] = set()
        for name, values in (result.get("multiValueHeaders") or {}).items():
            seen.add(name.lower())
            headers += [(name, _header_str(v)) for v in _as_list(values)]
        for name, value in (result.get("headers") or {}).items():
            if name.lower() not in seen:
                headers.append((name, _header_str(value)))
        if not any(k.lower() == "content-type" for k, _ in headers):
            headers.append(("Content-Type", "application/json"))
        headers.append(("x-amzn-RequestId", request_id))
        raw = (body or "").encode()
        if result.get("isBase64Encoded") and body:
            raw = base64.b64decode(body)
        return OutgoingResponse(status, headers, raw)


def _header_str(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


# --------------------------------------------------------------------------- HTTP plumbing


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    # socketserver's default listen backlog is 5: a burst of connects overflows it and the kernel
    # resets them. One thread per connection serves keep-alive clients; the backlog covers a burst
    # of at least 64 simultaneous connects (the kernel caps it at net.core.somaxconn).
    request_queue_size = 1024
    gateway: LocalGateway


class _BodyTooLargeError(Exception):
    pass


class _RequestHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # Headers and body leave in one segment (flushed by handle_one_request) and without Nagle:
    # otherwise keep-alive clients see ~40 ms delayed-ACK stalls per request.
    wbufsize = 64 * 1024
    disable_nagle_algorithm = True
    server: _Server

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
