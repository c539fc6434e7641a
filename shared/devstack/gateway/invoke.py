"""Invocation: the Lambda proxy event (payload 1.0) in, the proxy result out, errors as 502."""

from __future__ import annotations

import base64
import logging
import re
import traceback
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qsl

from ..lambdas import LocalFunction
from ..template import ACCOUNT_ID, ApiSpec, Route
from .messages import IncomingRequest, OutgoingResponse, as_list, multi_maps, wildcard
from .responses import gateway_response

log = logging.getLogger("devstack.gateway")


def proxy_event(
    request: IncomingRequest,
    route: Route,
    path: str,
    path_params: dict[str, str],
    stage: str,
    api_id: str,
    request_id: str,
    *,
    apis: Mapping[str, ApiSpec],
    host: str,
    port: int,
) -> dict[str, Any]:
    """The REST API (payload format 1.0) Lambda proxy event."""
    headers = list(request.headers)
    present = {k.lower() for k, _ in headers}
    for name, value in (
        ("X-Forwarded-For", request.source_ip),
        ("X-Forwarded-Proto", "http"),
        ("X-Forwarded-Port", str(port)),
    ):
        if name.lower() not in present:
            headers.append((name, value))
    single_h, multi_h = multi_maps(headers)
    single_q, multi_q = multi_maps(parse_qsl(request.query, keep_blank_values=True))
    now = datetime.now(UTC)
    body: str | None = None
    is_b64 = False
    if request.body:
        content_type = (request.header("Content-Type") or "").split(";")[0].strip()
        api = apis.get(route.api_id)
        binary = api is not None and any(
            wildcard(t).match(content_type) for t in api.binary_media_types if content_type
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
            "domainName": request.header("Host") or f"{host}:{port}",
            "apiId": api_id,
        },
        "body": body,
        "isBase64Encoded": is_b64,
    }


def integrate(
    functions: Mapping[str, LocalFunction],
    route: Route,
    api: ApiSpec | None,
    request: IncomingRequest,
    event: dict[str, Any],
    request_id: str,
) -> OutgoingResponse:
    function = functions.get(route.function_id)
    if function is None:
        log.error("%s is not loaded (see the warning at start-up); answering 502", route.function_id)
        response = gateway_response("LAMBDA_ERROR", api, request, request_id)
    else:
        try:
            result = function.invoke(event, request_id=request_id)
            response = proxy_response(result, request_id)
        except Exception:
            log.error("%s raised (request %s):\n%s", route.function_id, request_id, traceback.format_exc().rstrip())
            response = gateway_response("LAMBDA_ERROR", api, request, request_id)
    response.function_id = route.function_id
    return response


def proxy_response(result: Any, request_id: str) -> OutgoingResponse:
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
        headers += [(name, header_str(v)) for v in as_list(values)]
    for name, value in (result.get("headers") or {}).items():
        if name.lower() not in seen:
            headers.append((name, header_str(value)))
    if not any(k.lower() == "content-type" for k, _ in headers):
        headers.append(("Content-Type", "application/json"))
    headers.append(("x-amzn-RequestId", request_id))
    raw = (body or "").encode()
    if result.get("isBase64Encoded") and body:
        raw = base64.b64decode(body)
    return OutgoingResponse(status, headers, raw)


def header_str(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)
