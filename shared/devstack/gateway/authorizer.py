"""The Lambda authorizer as API Gateway runs it: identity sources, the result cache, the policy."""

from __future__ import annotations

import logging
import re
import threading
import time
import traceback
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl

from ..lambdas import LocalFunction
from ..template import ApiSpec, AuthorizerSpec, Route
from .messages import IncomingRequest, OutgoingResponse, as_list, wildcard
from .responses import gateway_response

log = logging.getLogger("devstack.gateway")


@dataclass
class CacheEntry:
    expires: float
    principal_id: Any
    statements: list[dict[str, Any]]
    context: dict[str, Any]


@dataclass
class AuthResult:
    authorizer: dict[str, Any] | None = None
    denied: OutgoingResponse | None = None


@dataclass
class AuthorizerCache:
    """API Gateway's authorizer result cache: key = (authorizer, identity values)."""

    entries: dict[tuple[str, tuple[str, ...]], CacheEntry] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def get(self, key: tuple[str, tuple[str, ...]]) -> CacheEntry | None:
        with self.lock:
            entry = self.entries.get(key)
            if entry and entry.expires > time.monotonic():
                return entry
            self.entries.pop(key, None)
            return None

    def put(self, key: tuple[str, tuple[str, ...]], entry: CacheEntry) -> None:
        with self.lock:
            self.entries[key] = entry

    def clear(self) -> None:
        with self.lock:
            self.entries.clear()


def evaluate_policy(statements: list[dict[str, Any]], method_arn: str) -> str:
    """``allow``, ``deny`` (explicit) or ``implicit`` (no statement allows) for ``method_arn``."""
    allowed = False
    for st in statements:
        actions = [str(a) for a in as_list(st.get("Action"))]
        if not any(wildcard(a).match("execute-api:Invoke") for a in actions):
            continue
        if not any(wildcard(str(r)).match(method_arn) for r in as_list(st.get("Resource"))):
            continue
        effect = str(st.get("Effect", "")).lower()
        if effect == "deny":
            return "deny"
        if effect == "allow":
            allowed = True
    return "allow" if allowed else "implicit"


class InvalidAuthorizerResultError(Exception):
    pass


def parse_authorizer_result(result: Any) -> tuple[Any, list[dict[str, Any]], dict[str, Any]]:
    if not isinstance(result, dict) or "principalId" not in result:
        raise InvalidAuthorizerResultError("result must be an object with principalId and policyDocument")
    policy = result.get("policyDocument")
    if not isinstance(policy, dict) or "Statement" not in policy:
        raise InvalidAuthorizerResultError("policyDocument with Statement is required")
    statements = [s for s in as_list(policy["Statement"]) if isinstance(s, dict)]
    context = result.get("context") or {}
    if not isinstance(context, dict):
        raise InvalidAuthorizerResultError("context must be an object")
    for key, value in context.items():
        if isinstance(value, (dict, list)):
            raise InvalidAuthorizerResultError(f"context[{key!r}] is an object/array; only scalars are allowed")
    return result["principalId"], statements, context


def stringify_context(context: Mapping[str, Any]) -> dict[str, Any]:
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


def authorize(
    functions: Mapping[str, LocalFunction],
    cache: AuthorizerCache,
    route: Route,
    api: ApiSpec | None,
    request: IncomingRequest,
    event: dict[str, Any],
    method_arn: str,
    request_id: str,
) -> AuthResult:
    spec: AuthorizerSpec | None = api.authorizers.get(route.authorizer or "") if api else None
    if spec is None:
        log.error(
            "route %s %s names authorizer %r which the API does not define",
            route.method,
            route.path,
            route.authorizer,
        )
        return AuthResult(denied=gateway_response("AUTHORIZER_CONFIGURATION_ERROR", api, request, request_id))
    unauthorized = AuthResult(denied=gateway_response("UNAUTHORIZED", api, request, request_id))
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
    entry = cache.get(key) if spec.reauthorize_every > 0 else None
    latency = 0
    if entry is None:
        function = functions.get(spec.function_id)
        if function is None:
            log.error("authorizer function %s is not loaded", spec.function_id)
            return AuthResult(denied=gateway_response("AUTHORIZER_CONFIGURATION_ERROR", api, request, request_id))
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
            principal, statements, context = parse_authorizer_result(result)
        except InvalidAuthorizerResultError as exc:
            log.error("authorizer %s returned an invalid result: %s", spec.function_id, exc)
            return AuthResult(denied=gateway_response("AUTHORIZER_CONFIGURATION_ERROR", api, request, request_id))
        except Exception as exc:
            if str(exc) == "Unauthorized":
                return unauthorized
            log.error("authorizer %s failed:\n%s", spec.function_id, traceback.format_exc().rstrip())
            return AuthResult(denied=gateway_response("AUTHORIZER_CONFIGURATION_ERROR", api, request, request_id))
        latency = int((time.monotonic() - started) * 1000)
        entry = CacheEntry(time.monotonic() + spec.reauthorize_every, principal, statements, context)
        if spec.reauthorize_every > 0:
            cache.put(key, entry)
    verdict = evaluate_policy(entry.statements, method_arn)
    if verdict != "allow":
        message = (
            "User is not authorized to access this resource with an explicit deny"
            if verdict == "deny"
            else "User is not authorized to access this resource"
        )
        return AuthResult(denied=gateway_response("ACCESS_DENIED", api, request, request_id, message))
    context = stringify_context(entry.context)
    context["principalId"] = entry.principal_id
    context["integrationLatency"] = latency
    return AuthResult(authorizer=context)
