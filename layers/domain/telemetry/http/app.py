"""The resolver factory every platform-API handler uses.

A handler module is three things: ``app = build_app()``, one route function that calls a use
case, and ``lambda_handler = entrypoint(app)``. Errors are never caught in handlers: the
exception handlers registered here map them (via :mod:`telemetry.http.problems`).
"""

from __future__ import annotations

import base64
import binascii
import warnings
from collections.abc import Callable
from typing import Any

import orjson
from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.event_handler import APIGatewayRestResolver, CORSConfig, Response
from aws_lambda_powertools.event_handler.openapi.exceptions import RequestValidationError
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.metrics import MetricResolution, MetricUnit
from aws_lambda_powertools.metrics.functions import is_metrics_disabled
from pydantic import BaseModel

from telemetry import errors as e
from telemetry.clock import now_ms
from telemetry.http.problems import Renderer, problem_response
from telemetry.http.resolver import IsolatedRestResolver
from telemetry.limits import DEFAULT_MAX_BODY_BYTES
from telemetry.models.principal import Principal
from telemetry.settings import settings
from telemetry.validation import error_from_pydantic

logger = Logger()


class _Metrics(Metrics):
    """Powertools' Metrics, independent of WHEN the handler module was imported.

    Powertools reads the namespace once, at construction, and its ``add_metric`` serializes the
    set every 100 values even while metrics are disabled (``flush_metrics`` then never clears
    it). A process that imported the handlers before the environment was set (a pytest run that
    starts the local stack) thus answered every 100th ingest with a 500, "Must contain a metric
    namespace". Here a disabled metric is not recorded at all, and a missing namespace is taken
    from the settings when the first metric is added (``container()`` re-reads them on its first use).
    """

    def add_metric(
        self, name: str, unit: MetricUnit | str, value: float, resolution: MetricResolution | int = 60
    ) -> None:
        if is_metrics_disabled():
            return
        if self.namespace is None:
            self.namespace = settings().metrics_namespace
        super().add_metric(name=name, unit=unit, value=value, resolution=resolution)


metrics = _Metrics()
# Most endpoints publish no custom metric; powertools warns about that on every invocation.
warnings.filterwarnings("ignore", message="No application metrics to publish", category=UserWarning)


def _tracing_enabled() -> bool:
    return settings().tracing_enabled


def _traced(
    handler: Callable[[dict[str, Any], Any], dict[str, Any]],
) -> Callable[[dict[str, Any], Any], dict[str, Any]]:
    """Wrap with powertools' Tracer only when the X-Ray SDK is enabled.

    Tracer() always imports aws_xray_sdk (~300 ms of cold start, most of it botocore). Lambda's
    active tracing records every invocation without it; the SDK only adds subsegments for AWS
    calls. So it is opt-in (template parameter EnableXRaySdk), documented in docs/performance.md.
    """
    if not _tracing_enabled():
        return handler
    from aws_lambda_powertools import Tracer

    return Tracer().capture_lambda_handler(handler, capture_response=False)  # type: ignore[no-any-return]


def _dumps(obj: Any) -> str:
    return orjson.dumps(obj, default=_default).decode()


def _default(obj: Any) -> Any:
    if isinstance(obj, BaseModel):
        return obj.model_dump(mode="json", exclude_none=True)
    raise TypeError(f"not serializable: {type(obj).__name__}")


def json_response(status: int, body: Any, headers: dict[str, str] | None = None) -> Response[Any]:
    if isinstance(body, BaseModel):
        text = body.model_dump_json(exclude_none=not getattr(body, "keeps_nulls", False))
    else:
        text = _dumps(body)
    return Response(status_code=status, content_type="application/json", body=text, headers=headers or {})


def _problem(err: e.DomainError, instance: str | None) -> Response[Any]:
    status, headers, body = problem_response(err, instance)
    return Response(status_code=status, headers=headers, body=body)


def is_json_content_type(value: str | None) -> bool:
    """No Content-Type (read as JSON, as powertools does), ``application/json`` or ``*/*+json``."""
    media = (value or "").split(";", 1)[0].strip().lower()
    return not media or media == "application/json" or (media.startswith("application/") and media.endswith("+json"))


def _load_json_body(text: str) -> Any:
    """The validated routes' body parser: orjson, like every ingest path (telemetry.body), so a
    200k-deep array, NaN or Infinity is a JSON error (400), not a RecursionError or a stored null.
    orjson.JSONDecodeError subclasses json.JSONDecodeError, which powertools maps to json_invalid."""
    return orjson.loads(text)


def _json_only_validation() -> Any:
    """Powertools' request validation, refusing every non-JSON body with 415 before it parses it.

    Powertools would parse form and multipart bodies itself, and raise a bare ValueError (a 500,
    outside the exception handlers) for ``multipart/form-data`` without a boundary. Built on
    first use: the middleware module loads powertools' OpenAPI models (pydantic), which a
    handler that parses its own body never needs (cold start, docs/performance.md).
    """
    from aws_lambda_powertools.event_handler.middlewares.openapi_validation import (
        OpenAPIRequestValidationMiddleware,
    )

    class _JsonOnlyValidation(OpenAPIRequestValidationMiddleware):
        def _get_body(self, app: Any) -> dict[str, Any]:
            if not is_json_content_type(app.current_event.headers.get("content-type")):
                raise e.UnsupportedMediaType("the request body must be JSON (Content-Type: application/json)")
            return super()._get_body(app)  # type: ignore[no-any-return]

    return _JsonOnlyValidation()


def cors_config() -> CORSConfig | None:
    """CORS for the web console when it is served from another origin (CORS_ALLOW_ORIGIN, the template's
    ConsoleOrigin or its CloudFront domain; docs/console.md). Powertools adds the headers to an answer
    only when the request's ``Origin`` is that one; the preflight is API Gateway's (template.yaml)."""
    origin = settings().cors_allow_origin
    if not origin:
        return None
    return CORSConfig(
        allow_origin=origin, allow_headers=["Content-Type", "X-Api-Key"], expose_headers=["Retry-After"], max_age=600
    )


def _request_origin(event: dict[str, Any]) -> str | None:
    return next((str(v) for k, v in (event.get("headers") or {}).items() if k.lower() == "origin"), None)


def build_app(*, validation: bool = True) -> APIGatewayRestResolver:
    """The resolver of one handler module. ``validation=False``: for a route that takes only path
    parameters and parses its body itself (frames ingest, via :func:`json_body`), so powertools'
    request validation (pydantic models of every parameter and body, the OpenAPI models) is
    neither built nor imported; its errors are still mapped if anything raises them."""
    app = IsolatedRestResolver(
        enable_validation=validation, serializer=_dumps, json_body_deserializer=_load_json_body, cors=cors_config()
    )
    if validation:
        app._request_validation_middleware = _json_only_validation()  # type: ignore[attr-defined]

    @app.exception_handler(e.DomainError)
    def _domain_error(err: e.DomainError) -> Response[Any]:
        if isinstance(err, e.Unavailable):
            logger.warning("dependency unavailable", extra={"detail": err.detail})
        return _problem(err, app.current_event.path)

    @app.exception_handler(RequestValidationError)
    def _invalid_request(err: RequestValidationError) -> Response[Any]:
        raw = list(err.errors())
        if any(x.get("type") == "json_invalid" for x in raw):
            return _problem(e.MalformedRequest("the request body is not valid JSON"), app.current_event.path)
        field_errors = []
        for item in raw:
            fe = error_from_pydantic(item)
            path = fe.path[1:] if fe.path and fe.path[0] in ("body", "query", "path") else fe.path
            if fe.path and fe.path[0] == "query":
                path = ("query", *path)
            field_errors.append(e.FieldError(tuple(path), fe.message))
        return _problem(e.ValidationFailed(field_errors), app.current_event.path)

    return app


def raw_body(app: APIGatewayRestResolver) -> bytes:
    """The request body as bytes, for endpoints that parse it themselves (the ingest hot path)."""
    return (app.current_event.body or "").encode()  # entrypoint() already decoded any base64


def json_body(app: APIGatewayRestResolver) -> bytes:
    """:func:`raw_body` of a platform-API route, refusing a non-JSON Content-Type (415) exactly as
    the validated routes do; the body itself is parsed by the service (telemetry.body)."""
    if not is_json_content_type(app.current_event.headers.get("content-type")):
        raise e.UnsupportedMediaType("the request body must be JSON (Content-Type: application/json)")
    return raw_body(app)


def api_key_values(event: dict[str, Any]) -> int:
    """How many ``X-Api-Key`` values a request carries (any capitalisation, repeated or not)."""
    multi = sum(len(v or []) for k, v in (event.get("multiValueHeaders") or {}).items() if k.lower() == "x-api-key")
    single = sum(1 for k in (event.get("headers") or {}) if k.lower() == "x-api-key")
    return max(multi, single)


def principal(app: APIGatewayRestResolver) -> Principal:
    """The caller, from the authorizer context API Gateway attached to the event."""
    ctx = app.current_event.request_context.authorizer.get_context() or {}
    org_id = ctx.get("orgId")
    if not org_id:
        # Only reachable if a route were deployed without the authorizer.
        raise e.Unauthenticated("no authorizer context")
    if api_key_values(app.current_event.raw_event) > 1:
        # the gateway's authorizer cache is keyed by one of the values: refuse, whatever is cached
        raise e.Unauthenticated("send exactly one API key")
    filters = orjson.loads(ctx.get("filters") or "{}")
    expires = str(ctx.get("expiresAt") or "")
    who = Principal(
        org_id=str(org_id),
        key_id=str(ctx.get("keyId", "")),
        scopes=frozenset(filter(None, str(ctx.get("scopes", "")).split(","))),
        place_filter=frozenset(filters.get("places", [])),
        thing_filter=frozenset(filters.get("things", [])),
        expires_at_ms=int(expires) if expires.isdigit() else None,
    )
    # the authorizer's answer is cached: an expiry inside the cache window is caught here
    if who.expired(now_ms()):
        raise e.Unauthenticated("this API key has expired")
    return who


def entrypoint(
    app: APIGatewayRestResolver,
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
    render: Renderer = problem_response,
) -> Callable[[dict[str, Any], Any], dict[str, Any]]:
    """Wrap the resolver as the Lambda handler: body-size limit, UTF-8 decoding, logging, metrics,
    optional tracing, and a last-resort 500 that never leaks a stack trace. Every refusal made
    here is rendered by ``render``, so dialects with their own error shapes share this wrapper."""

    cors = cors_config()

    def _early(err: e.DomainError, event: dict[str, Any]) -> dict[str, Any]:
        status, headers, body = render(err, event.get("path"))
        if cors is not None:  # refused before the resolver ran: its CORS headers, as it would add them
            headers = {**headers, **cors.to_dict(_request_origin(event))}
        return {"statusCode": status, "headers": headers, "body": body, "isBase64Encoded": False}

    @logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST, clear_state=True)
    @_traced
    @metrics.log_metrics(capture_cold_start_metric=settings().cold_start_metric)
    def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
        body = event.get("body") or ""
        if event.get("isBase64Encoded") and body:
            # JSON APIs: decode once here; bytes that are not UTF-8 cannot be JSON (RFC 8259)
            if len(body) * 3 // 4 > max_body_bytes:
                return _early(e.PayloadTooLarge(f"the request body exceeds {max_body_bytes} bytes"), event)
            try:
                body = base64.b64decode(body).decode("utf-8")
            except (binascii.Error, UnicodeDecodeError):
                return _early(e.MalformedRequest("the request body is not UTF-8 JSON"), event)
            event = {**event, "body": body, "isBase64Encoded": False}
        size = len(body) if len(body) * 4 <= max_body_bytes else len(body.encode())
        if size > max_body_bytes:
            return _early(e.PayloadTooLarge(f"the request body exceeds {max_body_bytes} bytes"), event)
        try:
            return app.resolve(event, context)
        except Exception:
            logger.exception("unhandled error")
            return _early(e.Internal("An unexpected error occurred; it has been logged."), event)

    return lambda_handler


def template_payload_body() -> dict[str, Any]:
    """The OpenAPI ``requestBody`` of the routes that run a template on a raw payload: any JSON, with
    an example the documented template (``TemplateCreate``'s example) maps."""
    example = {"readings": [{"ts": "2024-06-21T08:00:00Z", "v": 48.1}, {"ts": "2024-06-21T08:01:00Z", "v": 48.3}]}
    schema = {"description": "any JSON payload: the template maps it", "examples": [example]}
    return {"required": True, "content": {"application/json": {"schema": schema}}}
