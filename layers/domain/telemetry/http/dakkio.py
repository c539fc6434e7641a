"""HTTP for the bucket data points dialect (``/api/data...``): its document's error bodies.

Routes under ``/api`` are deployed with ``Auth: NONE``; the function authenticates the
``X-API-Key`` header itself so that a missing or wrong key gets the document's exact 401 body
``{"error": "Unauthorized", "message": "Invalid or missing API key"}`` rather than the
authorizer's problem+json. This module is the one place that maps domain errors to that shape.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import orjson
from aws_lambda_powertools import Logger
from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response

from telemetry import errors as e
from telemetry.http.app import api_key_values, entrypoint
from telemetry.http.app import json_response as json_response  # the handlers' one import
from telemetry.http.app import raw_body as raw_body
from telemetry.http.resolver import IsolatedRestResolver
from telemetry.models.auth import Principal

logger = Logger()

UNAUTHORIZED = {"error": "Unauthorized", "message": "Invalid or missing API key"}
INTERNAL = {"error": "Internal Server Error", "message": "An unexpected error occurred"}

_STATUS: list[tuple[type[e.DomainError], int, str]] = [
    (e.ValidationFailed, 400, "Validation Error"),
    (e.MalformedRequest, 400, "Validation Error"),
    (e.Unauthenticated, 401, "Unauthorized"),
    (e.Forbidden, 403, "Forbidden"),
    (e.NotFound, 404, "Not Found"),
    (e.Conflict, 409, "Conflict"),
    (e.PayloadTooLarge, 413, "Payload Too Large"),
    (e.RateLimited, 429, "Too Many Requests"),
    (e.NotSupported, 400, "Bad Request"),
    (e.FailedDependency, 424, "Failed Dependency"),
    (e.Unavailable, 503, "Service Unavailable"),
]


def error_response(err: e.DomainError) -> tuple[int, dict[str, str], dict[str, Any]]:
    """(status, headers, body) of a domain error in the dialect's ``{error, message[, details]}`` shape."""
    headers = {"Content-Type": "application/json"}
    found = next(((status, title) for cls, status, title in _STATUS if isinstance(err, cls)), None)
    if found is None:
        return 500, headers, dict(INTERNAL)
    status, title = found
    if isinstance(err, e.Unauthenticated):
        return status, headers, dict(UNAUTHORIZED)
    if isinstance(err, e.ValidationFailed):
        details = [{"path": list(fe.path), "message": fe.message} for fe in err.errors]
        return status, headers, {"error": title, "message": "Invalid request parameters", "details": details}
    if isinstance(err, e.MalformedRequest):
        details = [{"path": ["body"], "message": err.detail}]
        return status, headers, {"error": title, "message": "Invalid request parameters", "details": details}
    if isinstance(err, e.RateLimited):
        wait = max(1, err.retry_after_seconds)
        headers["Retry-After"] = str(wait)
        return status, headers, {"error": title, "message": f"Rate limit exceeded. Retry after {wait} second(s)."}
    if isinstance(err, e.Forbidden):
        return status, headers, {"error": title, "message": f"Insufficient permissions: {err.detail}"}
    return status, headers, {"error": title, "message": err.detail}


def _dumps(obj: Any) -> str:
    return orjson.dumps(obj).decode()


def build_dakkio_app() -> APIGatewayRestResolver:
    """A resolver whose every domain error answers in the dialect's shape. No request validation by
    Powertools: the use cases parse the raw body themselves, to report issues in zod's terms."""
    app = IsolatedRestResolver(serializer=_dumps)

    @app.exception_handler(e.DomainError)
    def _domain_error(err: e.DomainError) -> Response[Any]:
        if isinstance(err, e.Unavailable):
            logger.warning("dependency unavailable", extra={"detail": err.detail})
        status, headers, body = error_response(err)
        return Response(status_code=status, headers=headers, body=_dumps(body))

    return app


def api_key(app: APIGatewayRestResolver) -> str | None:
    """The ``X-API-Key`` header (any capitalisation, as HTTP header names are case-insensitive).
    More than one value is refused, as on the platform routes."""
    if api_key_values(app.current_event.raw_event) > 1:
        raise e.Unauthenticated("send exactly one API key")
    for name, value in (app.current_event.raw_event.get("headers") or {}).items():
        if name.lower() == "x-api-key":
            return str(value)
    return None


def query_params(app: APIGatewayRestResolver) -> dict[str, str]:
    return dict(app.current_event.query_string_parameters or {})


def authenticate(app: APIGatewayRestResolver, authenticate_key: Callable[[str | None], Principal]) -> Principal:
    return authenticate_key(api_key(app))


def render(err: e.DomainError, instance: str | None = None) -> tuple[int, dict[str, str], str]:
    status, headers, body = error_response(err)
    return status, headers, _dumps(body)


def dakkio_entrypoint(
    app: APIGatewayRestResolver, max_body_bytes: int
) -> Callable[[dict[str, Any], Any], dict[str, Any]]:
    """The platform's Lambda wrapper (body limit, UTF-8, last-resort 500) in the dialect's shape."""
    return entrypoint(app, max_body_bytes, render=render)


# --------------------------------------------------------------------------- the OpenAPI document
# The handlers parse their bodies themselves (to report issues in zod's terms); these describe
# what they accept, for devstack.openapi. Patterns are the parser's own (services.dakkio.ingest).
_OBJECT_ID = {"type": "string", "pattern": "^[0-9a-fA-F]{24}$"}
_ISO_DATETIME = {
    "type": "string",
    "pattern": r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|z|[+-]\d{2}:?\d{2})?$",
    "format": "date-time",
}
_POINT: dict[str, Any] = {
    "type": "object",
    "required": ["dataSourceId", "values"],
    "properties": {
        "dataSourceId": _OBJECT_ID,
        "timestamp": _ISO_DATETIME,
        "values": {"type": "object", "minProperties": 1, "description": "the data source's schema keys -> values"},
        "metadata": {"type": "object"},
    },
}
_EXAMPLE_POINT = {
    "bucketId": "507f1f77bcf86cd799439011",
    "dataSourceId": "507f1f77bcf86cd799439012",
    "timestamp": "2024-01-15T10:30:00Z",
    "values": {"temperature": 22.5, "humidity": 65, "pressure": 1013.25},
    "metadata": {"deviceId": "ESP32-001", "location": "Living Room", "batteryLevel": 85},
}


def data_point_body(batch: bool) -> dict[str, Any]:
    """The request body of ``POST /api/data`` (one point) or ``/api/data/batch`` (1..1000)."""
    if batch:
        example = {
            "bucketId": _EXAMPLE_POINT["bucketId"],
            "dataPoints": [{k: v for k, v in _EXAMPLE_POINT.items() if k != "bucketId"}],
        }
        schema: dict[str, Any] = {
            "type": "object",
            "required": ["bucketId", "dataPoints"],
            "properties": {
                "bucketId": _OBJECT_ID,
                "dataPoints": {"type": "array", "minItems": 1, "maxItems": 1000, "items": _POINT},
            },
            "examples": [example],
        }
    else:
        schema = {
            **_POINT,
            "required": ["bucketId", *_POINT["required"]],
            "properties": {"bucketId": _OBJECT_ID, **_POINT["properties"]},
            "examples": [_EXAMPLE_POINT],
        }
    return {"required": True, "content": {"application/json": {"schema": schema}}}


#: ``GET /api/data``'s query (services.dakkio.query)
DATA_QUERY_PARAMETERS: list[dict[str, Any]] = [
    {"name": "bucketId", "in": "query", "required": True, "schema": _OBJECT_ID},
    {"name": "dataSourceId", "in": "query", "required": False, "schema": _OBJECT_ID},
    {"name": "startTime", "in": "query", "required": False, "schema": _ISO_DATETIME},
    {"name": "endTime", "in": "query", "required": False, "schema": _ISO_DATETIME},
    {"name": "limit", "in": "query", "required": False, "schema": {"type": "integer", "minimum": 1, "maximum": 1000}},
    {"name": "order", "in": "query", "required": False, "schema": {"enum": ["asc", "desc"], "default": "desc"}},
]
