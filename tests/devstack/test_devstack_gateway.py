"""The local gateway over HTTP: routing, event shape, authorizer emulation, error mapping."""

from __future__ import annotations

import base64
import http.client
import json
import logging
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
import requests
from devstack.stack import LocalStack


def _auth_calls(stack: LocalStack) -> list[str]:
    calls: list[str] = stack.functions["AuthorizerFunction"].module.CALLS
    return calls


def _event(response: requests.Response) -> dict[str, Any]:
    assert response.status_code == 200, response.text
    event: dict[str, Any] = response.json()["event"]
    return event


@pytest.fixture(autouse=True)
def fresh_authorizer(stack: LocalStack) -> None:
    assert stack.gateway is not None
    stack.gateway.cache.clear()
    _auth_calls(stack).clear()


def test_public_route_event_shape(stack: LocalStack) -> None:
    r = requests.get(f"{stack.url}/public", headers={"X-Custom-Case": "v"}, timeout=5)
    event = _event(r)
    assert (event["resource"], event["path"], event["httpMethod"]) == ("/public", "/public", "GET")
    assert event["headers"]["X-Custom-Case"] == "v"  # original case preserved
    assert event["multiValueHeaders"]["X-Custom-Case"] == ["v"]
    assert event["queryStringParameters"] is None and event["multiValueQueryStringParameters"] is None
    assert event["pathParameters"] is None and event["stageVariables"] is None
    assert event["body"] is None and event["isBase64Encoded"] is False
    ctx = event["requestContext"]
    assert ctx["stage"] == "test" and ctx["path"] == "/test/public" and ctx["resourcePath"] == "/public"
    assert ctx["httpMethod"] == "GET" and ctx["identity"]["sourceIp"] == "127.0.0.1"
    assert isinstance(ctx["requestTimeEpoch"], int) and ctx["requestId"] == r.headers["x-amzn-RequestId"]
    assert "authorizer" not in ctx
    body = r.json()
    assert body["function_name"] == "t-EchoFunction"
    assert 0 < body["remaining_ms"] <= 10_000
    assert body["items_table"] == stack.physical("ItemsTable")
    assert r.headers["X-Echo"] == "1"
    assert r.raw.headers.getlist("Set-Cookie") == ["a=1", "b=2"]


def test_query_strings_trailing_slash_and_stage_prefix(stack: LocalStack) -> None:
    event = _event(requests.get(f"{stack.url}/public/?a=1&a=2&b=x%20y", timeout=5))
    assert event["queryStringParameters"] == {"a": "2", "b": "x y"}
    assert event["multiValueQueryStringParameters"] == {"a": ["1", "2"], "b": ["x y"]}
    event = _event(requests.get(f"{stack.url}/test/public", timeout=5))
    assert event["path"] == "/public"


def test_path_parameters_and_greedy_proxy(stack: LocalStack) -> None:
    good = {"X-Api-Key": "good"}
    event = _event(requests.get(f"{stack.url}/items/a%2Fb", headers=good, timeout=5))
    assert event["resource"] == "/items/{itemId}"
    assert event["pathParameters"] == {"itemId": "a%2Fb"}  # REST APIs keep the encoding
    event = _event(requests.get(f"{stack.url}/items/special", headers=good, timeout=5))
    assert (event["resource"], event["pathParameters"]) == ("/items/special", None)
    event = _event(requests.delete(f"{stack.url}/files/x/y/z.txt", headers=good, timeout=5))
    assert event["resource"] == "/files/{proxy+}" and event["pathParameters"] == {"proxy": "x/y/z.txt"}


def test_bodies_text_and_binary(stack: LocalStack) -> None:
    good = {"X-Api-Key": "good"}
    event = _event(requests.post(f"{stack.url}/items", data="héllo".encode(), headers=good, timeout=5))
    assert (event["body"], event["isBase64Encoded"]) == ("héllo", False)
    event = _event(requests.post(f"{stack.url}/items", data=b"\xff\x00\xfe", headers=good, timeout=5))
    assert event["isBase64Encoded"] is True and base64.b64decode(event["body"]) == b"\xff\x00\xfe"


def test_unknown_route_and_wrong_method(stack: LocalStack) -> None:
    # TRACE and a made-up method too: http.server answered those 501 HTML (schemathesis, issue 8)
    cases = (
        ("GET", "/nowhere"),
        ("DELETE", "/public"),
        ("OPTIONS", "/items"),
        ("TRACE", "/items"),
        ("BREW", "/public"),
    )
    for method, path in cases:
        r = requests.request(method, f"{stack.url}{path}", timeout=5)
        assert r.status_code == 403 and r.json() == {"message": "Missing Authentication Token"}
    assert _auth_calls(stack) == []


def test_missing_key_is_401_without_calling_the_authorizer(stack: LocalStack) -> None:
    r = requests.get(f"{stack.url}/items/1", timeout=5)
    assert r.status_code == 401
    assert r.headers["Content-Type"] == "application/problem+json"
    assert r.json() == {"type": "urn:test:unauthenticated", "status": 401}
    assert _auth_calls(stack) == []


def test_unknown_key_401_deny_403_failure_500(stack: LocalStack) -> None:
    r = requests.get(f"{stack.url}/items/1", headers={"X-Api-Key": "nope"}, timeout=5)
    assert r.status_code == 401 and r.json()["status"] == 401
    r = requests.get(f"{stack.url}/items/1", headers={"X-Api-Key": "deny"}, timeout=5)
    assert r.status_code == 403 and r.json() == {"type": "urn:test:forbidden", "status": 403}
    r = requests.get(f"{stack.url}/items/1", headers={"X-Api-Key": "boom"}, timeout=5)
    assert r.status_code == 500 and r.json() == {"message": None}
    assert _auth_calls(stack) == ["nope", "deny", "boom"]


def test_allow_passes_stringified_context(stack: LocalStack) -> None:
    event = _event(requests.get(f"{stack.url}/items/1", headers={"X-Api-Key": "good"}, timeout=5))
    authorizer = event["requestContext"]["authorizer"]
    assert {k: authorizer[k] for k in ("orgId", "n", "admin", "principalId")} == {
        "orgId": "org-1",
        "n": "3",
        "admin": "true",
        "principalId": "org-1",
    }
    assert isinstance(authorizer["integrationLatency"], int)


def test_authorizer_result_is_cached_and_reevaluated(stack: LocalStack) -> None:
    for _ in range(2):
        assert requests.get(f"{stack.url}/items/1", headers={"X-Api-Key": "good"}, timeout=5).status_code == 200
    assert _auth_calls(stack) == ["good"]
    limited = {"X-Api-Key": "limited"}
    assert requests.get(f"{stack.url}/items/2", headers=limited, timeout=5).status_code == 200
    # same identity, cached policy, new methodArn: POST /items is not allowed by it
    assert requests.post(f"{stack.url}/items", headers=limited, timeout=5).status_code == 403
    assert _auth_calls(stack) == ["good", "limited"]


def test_handler_crash_is_502_without_traceback(stack: LocalStack, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.ERROR, logger="devstack.gateway"):
        r = requests.get(f"{stack.url}/items/crash", headers={"X-Api-Key": "good"}, timeout=5)
    assert r.status_code == 502 and r.json() == {"message": "Internal server error"}
    assert "secret-internal-detail" not in r.text and "Traceback" not in r.text
    assert "secret-internal-detail" in caplog.text and "Traceback" in caplog.text
    r = requests.get(f"{stack.url}/items/malformed", headers={"X-Api-Key": "good"}, timeout=5)
    assert r.status_code == 502


def test_request_too_large_is_413(stack: LocalStack) -> None:
    assert stack.gateway is not None
    conn = http.client.HTTPConnection("127.0.0.1", stack.gateway.port, timeout=5)
    conn.putrequest("POST", "/items")
    conn.putheader("X-Api-Key", "good")
    conn.putheader("Content-Length", str(10 * 1024 * 1024 + 1))
    conn.endheaders()
    response = conn.getresponse()
    assert response.status == 413
    assert json.loads(response.read()) == {"message": "Request Too Long"}
    conn.close()


def test_concurrent_requests(stack: LocalStack) -> None:
    def call(i: int) -> int:
        return requests.get(f"{stack.url}/items/{i}", headers={"X-Api-Key": "good"}, timeout=10).status_code

    with ThreadPoolExecutor(8) as pool:
        assert list(pool.map(call, range(24))) == [200] * 24


def _raw_get(stack: LocalStack, path: str, headers: list[tuple[str, str]]) -> tuple[int, str, dict[str, Any]]:
    """A GET with exactly these header lines (requests would merge repeated names)."""
    assert stack.gateway is not None
    conn = http.client.HTTPConnection("127.0.0.1", stack.gateway.port, timeout=5)
    try:
        conn.putrequest("GET", path)
        for name, value in headers:
            conn.putheader(name, value)
        conn.endheaders()
        response = conn.getresponse()
        return response.status, response.getheader("Content-Type") or "", json.loads(response.read())
    finally:
        conn.close()


@pytest.mark.parametrize(
    "headers",
    [
        [("X-Api-Key", "good"), ("x-api-key", "never-issued")],
        [("x-api-key", "never-issued"), ("X-Api-Key", "good")],
        [("X-Api-Key", "good"), ("X-Api-Key", "good")],
    ],
    ids=["two-spellings", "two-spellings-reversed", "repeated"],
)
def test_more_than_one_api_key_header_value_is_401(stack: LocalStack, headers: list[tuple[str, str]]) -> None:
    """Issue 8.9: an ambiguous identity is refused before the authorizer runs."""
    status, content_type, body = _raw_get(stack, "/items/1", headers)
    assert (status, content_type, body) == (
        401,
        "application/problem+json",
        {"type": "urn:test:unauthenticated", "status": 401},
    )
    assert _auth_calls(stack) == []


def test_a_never_issued_key_is_never_cached_as_allowed(stack: LocalStack) -> None:
    """Issue 8.9: the old gateway keyed the cache on the last header value while the authorizer
    judged the first, so ``never-issued`` stayed valid for ReauthorizeEvery seconds."""
    _raw_get(stack, "/items/1", [("X-Api-Key", "good"), ("x-api-key", "never-issued")])
    status, content_type, _ = _raw_get(stack, "/items/1", [("x-api-key", "never-issued")])
    assert (status, content_type) == (401, "application/problem+json")
    assert _auth_calls(stack) == ["never-issued"]
    # an Unauthorized answer is not cached either: the next try asks the authorizer again
    assert _raw_get(stack, "/items/1", [("X-Api-Key", "never-issued")])[0] == 401
    assert _auth_calls(stack) == ["never-issued", "never-issued"]
