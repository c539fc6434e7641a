"""CORS for the web console on another origin (CORS_ALLOW_ORIGIN; docs/console.md): answers to that
origin carry Access-Control-Allow-Origin, answers to any other origin (or none) carry nothing."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from aws_lambda_powertools.event_handler import Response
from telemetry import errors as e
from telemetry.http.app import build_app, entrypoint
from telemetry.settings import Settings, settings

CONSOLE = "https://d111111abcdef8.cloudfront.net"


@dataclass
class FakeContext:
    function_name: str = "api"
    memory_limit_in_mb: int = 512
    invoked_function_arn: str = "arn:aws:lambda:us-east-1:123456789012:function:api"
    aws_request_id: str = "req-1"


@pytest.fixture
def console_origin(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    monkeypatch.setenv("CORS_ALLOW_ORIGIN", CONSOLE + "/")
    monkeypatch.setenv("POWERTOOLS_METRICS_DISABLED", "true")
    settings.cache_clear()
    yield CONSOLE
    settings.cache_clear()


def _event(path: str, origin: str | None, body: str | None = None) -> dict[str, Any]:
    headers = {"Origin": origin} if origin else {}
    return {
        "resource": path,
        "path": path,
        "httpMethod": "GET",
        "headers": headers,
        "multiValueHeaders": {k: [v] for k, v in headers.items()},
        "queryStringParameters": None,
        "multiValueQueryStringParameters": None,
        "pathParameters": None,
        "stageVariables": None,
        "requestContext": {"path": path, "stage": "dev", "httpMethod": "GET", "requestId": "r1"},
        "body": body,
        "isBase64Encoded": False,
    }


def _headers(answer: dict[str, Any]) -> dict[str, str]:
    single = dict(answer.get("headers") or {})
    single.update({k: v[-1] for k, v in (answer.get("multiValueHeaders") or {}).items()})
    return single


def _app() -> Any:
    app = build_app()

    @app.get("/v2/ok")
    def ok() -> Response[str]:
        return Response(200, "application/json", "{}")

    @app.get("/v2/missing")
    def missing() -> Response[str]:
        raise e.NotFound("no such thing")

    return app


def test_the_console_origin_is_admitted_on_answers_and_problems(console_origin: str) -> None:
    app = _app()
    for path, status in (("/v2/ok", 200), ("/v2/missing", 404)):
        answer = app.resolve(_event(path, console_origin), None)
        assert answer["statusCode"] == status
        headers = _headers(answer)
        assert headers["Access-Control-Allow-Origin"] == console_origin
        assert "X-Api-Key" in headers["Access-Control-Allow-Headers"]
        assert headers["Access-Control-Expose-Headers"] == "Retry-After"


@pytest.mark.parametrize("origin", ["https://evil.example", None])
def test_another_origin_or_none_gets_no_cors_headers(console_origin: str, origin: str | None) -> None:
    answer = _app().resolve(_event("/v2/ok", origin), None)
    assert answer["statusCode"] == 200
    assert not any(k.lower().startswith("access-control-") for k in _headers(answer))


def test_refusals_before_the_resolver_carry_them_too(console_origin: str) -> None:
    handler = entrypoint(_app(), max_body_bytes=10)
    answer = handler(_event("/v2/ok", console_origin, body="x" * 11), FakeContext())
    assert answer["statusCode"] == 413
    assert answer["headers"]["Access-Control-Allow-Origin"] == console_origin


def test_without_a_console_origin_there_is_no_cors(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CORS_ALLOW_ORIGIN", raising=False)
    settings.cache_clear()
    try:
        answer = _app().resolve(_event("/v2/ok", CONSOLE), None)
    finally:
        settings.cache_clear()
    assert not any(k.lower().startswith("access-control-") for k in _headers(answer))


@pytest.mark.parametrize(
    ("raw", "parsed"),
    [
        ("", ""),
        ("https://console.example.com/", "https://console.example.com"),
        ("http://127.0.0.1:3000", "http://127.0.0.1:3000"),
    ],
)
def test_the_setting_is_an_origin(raw: str, parsed: str) -> None:
    assert Settings.from_env({"CORS_ALLOW_ORIGIN": raw}).cors_allow_origin == parsed


@pytest.mark.parametrize(
    "raw", ["console.example.com", "https://console.example.com/app", "*", "https://*.example.com", "ftp://x"]
)
def test_anything_but_one_origin_is_refused(raw: str) -> None:
    with pytest.raises(ValueError, match="CORS_ALLOW_ORIGIN"):
        Settings.from_env({"CORS_ALLOW_ORIGIN": raw})
