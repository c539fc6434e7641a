"""HTTP of the Ambiquality dialect: the one place that maps its domain errors to HTTP.

The ingestion routes (``/ingestion/v1/...``) answer RFC 9457 problem+json with the document's
type URIs ``urn:ambiquality:ingestion:<reason>``; the operator routes (``/v2/buildings``,
``/v2/rooms``, ``/v2/sensors``) are platform API routes and use the platform's resolver and
problems (:mod:`telemetry.http.app`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import orjson
from aws_lambda_powertools import Logger
from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response
from pydantic import BaseModel

from telemetry import errors as e
from telemetry.http.app import entrypoint
from telemetry.http.problems import problem_renderer
from telemetry.http.problems import status_for as platform_status_for
from telemetry.http.resolver import IsolatedRestResolver
from telemetry.services.ambiquality.errors import BatchRejected

logger = Logger()

TYPE_BASE = "urn:ambiquality:ingestion:"

_STATUS: dict[type[e.DomainError], int] = {
    BatchRejected: 422,
    e.ValidationFailed: 422,
    e.MalformedRequest: 422,
    e.Unauthenticated: 401,
    e.Forbidden: 403,
    e.NotFound: 404,
    e.PayloadTooLarge: 413,
    e.RateLimited: 429,
    e.Unavailable: 503,
}


def status_for(err: e.DomainError) -> int:
    return platform_status_for(err, _STATUS)


def problem_body(err: e.DomainError, instance: str | None = None) -> dict[str, Any]:
    reason = "invalid-body" if isinstance(err, e.MalformedRequest | e.ValidationFailed) else err.reason
    status = status_for(err)
    body: dict[str, Any] = {
        "type": TYPE_BASE + reason,
        "title": err.title,
        "status": status,
        "detail": err.detail,
    }
    if instance:
        body["instance"] = instance
    if isinstance(err, BatchRejected):
        first = err.problems[0]
        if first.index is not None:
            body["index"] = first.index
        if first.parameter_code is not None:
            body["parameterCode"] = first.parameter_code
        body["errors"] = [p.as_dict() for p in err.problems]
    if isinstance(err, e.RateLimited):
        body["retryAfter"] = max(1, err.retry_after_seconds)
    body.update(err.extra)
    return body


#: this dialect's renderer: the platform's problem+json mechanism with its own types and statuses
problem_response = problem_renderer(status_for, problem_body)


def build_ingestion_app() -> APIGatewayRestResolver:
    app = IsolatedRestResolver()

    @app.exception_handler(e.DomainError)
    def _domain_error(err: e.DomainError) -> Response[Any]:
        if isinstance(err, e.Unavailable):
            logger.warning("dependency unavailable", extra={"detail": err.detail})
        status, headers, body = problem_response(err, app.current_event.path)
        return Response(status_code=status, headers=headers, body=body)

    return app


def sensor_key(app: APIGatewayRestResolver) -> str | None:
    return app.current_event.headers.get("X-Sensor-Key")  # case-insensitive in Powertools v3


def json_answer(status: int, body: Any, headers: dict[str, str] | None = None) -> Response[Any]:
    text = body.model_dump_json() if isinstance(body, BaseModel) else orjson.dumps(body).decode()
    return Response(status_code=status, content_type="application/json", body=text, headers=headers or {})


#: For the answers that carry a secret key: never cached by anything between us and the operator.
NO_STORE = {"Cache-Control": "no-store"}


def ingestion_entrypoint(
    app: APIGatewayRestResolver, max_body_bytes: int
) -> Callable[[dict[str, Any], Any], dict[str, Any]]:
    """The platform's Lambda wrapper (body limit, UTF-8, last-resort 500) in this dialect's shape."""
    return entrypoint(app, max_body_bytes, render=problem_response)


__all__ = [
    "NO_STORE",
    "build_ingestion_app",
    "ingestion_entrypoint",
    "json_answer",
    "problem_body",
    "problem_response",
    "sensor_key",
]
