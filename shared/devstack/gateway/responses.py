"""Gateway responses: the template's type, else its DEFAULT_4XX/5XX, else API Gateway's own."""

from __future__ import annotations

import json

from ..template import ApiSpec, GatewayResponse
from .messages import IncomingRequest, OutgoingResponse

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
    "THROTTLED": (429, '{"message":"Too Many Requests"}', "TooManyRequestsException"),
    # Not a gateway response type: what a Lambda proxy integration error looks like.
    "LAMBDA_ERROR": (502, '{"message": "Internal server error"}', "InternalServerErrorException"),
}


def gateway_response(
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
            value = mapping_value(expr, request)
            if value is not None:
                headers.append((name, value))
    error_message = message if message is not None else json.loads(DEFAULT_GATEWAY_RESPONSES[rtype][1]).get("message")
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


def mapping_value(expr: str, request: IncomingRequest) -> str | None:
    if len(expr) >= 2 and expr.startswith("'") and expr.endswith("'"):
        return expr[1:-1]
    if expr.startswith("method.request.header."):
        return request.header(expr.removeprefix("method.request.header."))
    return None
