"""What the gateway answers on every documented operation, before any handler runs.

Given every operation of shared/openapi.json, when a request is too large, over the stage's
throttle, or (on a route behind the authorizer) carries no key, then the answer is the documented
status with the template's problem+json gateway response. These refusals are documented for every
route, so each route is tried: the status audit (tests/status_audit.py) counts them per operation.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.integration.conftest import Answer, Platform

REPO = Path(__file__).resolve().parents[2]
DOCUMENT = json.loads((REPO / "shared" / "openapi.json").read_text())
OPERATIONS = sorted((method, path, op) for path, item in DOCUMENT["paths"].items() for method, op in item.items())


def ids(value: Any) -> str:
    return str(value["operationId"]) if isinstance(value, dict) else str(value)


def concrete(path: str) -> str:
    """The path with each parameter filled in: the gateway refuses before any id is looked up."""
    return re.sub(r"\{[^}]+\}", "does-not-exist", path)


def documents(op: dict[str, Any], status: int) -> bool:
    return str(status) in op["responses"]


def secured_by(op: dict[str, Any], *schemes: str) -> bool:
    """The operation takes a credential of one of these security schemes."""
    return any(set(schemes) & set(requirement) for requirement in op.get("security", []))


def behind_authorizer(op: dict[str, Any]) -> bool:
    return secured_by(op, "ApiKey")


def assert_gateway_problem(answer: Answer, status: int, kind: str) -> None:
    assert answer.status == status, answer.body
    assert answer.header("Content-Type") == "application/problem+json"
    assert answer.body["type"] == f"urn:telemetry:problem:{kind}"


@pytest.fixture(scope="module")
def key(platform: Platform) -> str:
    return platform.key("org-every-route")


@pytest.fixture
def exhausted(platform: Platform) -> Iterator[None]:
    """The stage's throttle with no token left (a burst of 0, no refill) for this test only."""
    from devstack.gateway.throttle import MethodThrottle

    saved = dict(platform.gateway.throttles)
    assert saved, "the template's stage declares a method throttle (MethodSettings /* *)"
    platform.gateway.throttles = {api_id: MethodThrottle(0, 0.0) for api_id in saved}
    try:
        yield
    finally:
        platform.gateway.throttles = saved


@pytest.mark.parametrize(("method", "path", "op"), OPERATIONS, ids=ids)
def test_a_body_over_10_mb_is_413_on_every_route(
    platform: Platform, method: str, path: str, op: dict[str, Any]
) -> None:
    from devstack.gateway import MAX_BODY_BYTES

    assert documents(op, 413)
    answer = platform.call(method.upper(), concrete(path), b"0" * (MAX_BODY_BYTES + 1))
    assert_gateway_problem(answer, 413, "payload-too-large")


@pytest.mark.parametrize(("method", "path", "op"), OPERATIONS, ids=ids)
def test_over_the_stage_throttle_is_429_with_retry_after_on_every_route(
    platform: Platform, exhausted: None, key: str, method: str, path: str, op: dict[str, Any]
) -> None:
    assert documents(op, 429)
    answer = platform.call(method.upper(), concrete(path), key=key)
    assert_gateway_problem(answer, 429, "rate-limited")
    assert answer.header("Retry-After") == "1"


@pytest.mark.parametrize(("method", "path", "op"), [o for o in OPERATIONS if behind_authorizer(o[2])], ids=ids)
def test_no_key_is_401_on_every_route_behind_the_authorizer(
    platform: Platform, method: str, path: str, op: dict[str, Any]
) -> None:
    assert documents(op, 401)
    answer = platform.call(method.upper(), concrete(path))
    assert_gateway_problem(answer, 401, "unauthenticated")


@pytest.mark.parametrize(("method", "path", "op"), OPERATIONS, ids=ids)
def test_a_body_that_is_not_utf8_is_the_dialects_malformed_status_on_every_route(
    platform: Platform, key: str, method: str, path: str, op: dict[str, Any]
) -> None:
    """Bytes that are not UTF-8 cannot be JSON (RFC 8259): the gateway passes them base64-encoded and
    every function refuses them before its route runs, whatever the method (API Gateway forwards a
    GET's body too). The sensor ingestion dialect answers every invalid body 422, as its document says."""
    malformed = 422 if path.startswith("/ingestion/") else 400
    assert documents(op, malformed)
    answer = platform.call(
        method.upper(), concrete(path), b"\xff\xfe{", key=key, headers={"Content-Type": "application/json"}
    )
    assert answer.status == malformed, (answer.status, answer.body)


def test_the_throttle_refills_at_the_stage_rate() -> None:
    """Given a burst of 2 at 8 per second, the third request at once is refused and one is allowed
    again 0.125 s later; buckets are per method and resource, as API Gateway keeps them."""
    from devstack.gateway.throttle import MethodThrottle

    now = [100.0]
    throttle = MethodThrottle(2, 8.0, clock=lambda: now[0])
    assert [throttle.take("GET", "/v2/things/{thingId}") for _ in range(3)] == [True, True, False]
    assert throttle.take("POST", "/v2/things/{thingId}") is True  # another method: its own bucket
    now[0] += 0.125
    assert throttle.take("GET", "/v2/things/{thingId}") is True
    assert throttle.take("GET", "/v2/things/{thingId}") is False


def test_the_local_gateway_throttles_as_the_template_says(platform: Platform) -> None:
    throttles = platform.gateway.throttles
    assert {(t.burst, t.rate) for t in throttles.values()} == {(500, 1000.0)}


@pytest.mark.parametrize(("method", "path", "op"), [o for o in OPERATIONS if documents(o[2], 415)], ids=ids)
def test_a_body_that_is_not_json_is_415_on_every_route_that_takes_one(
    platform: Platform, key: str, method: str, path: str, op: dict[str, Any]
) -> None:
    answer = platform.call(method.upper(), concrete(path), b"a=1", key=key, headers={"Content-Type": "text/plain"})
    assert answer.status == 415, (answer.status, answer.body)


def example_body(op: dict[str, Any]) -> Any:
    """The request body the document shows (None: the route takes none)."""
    media = op.get("requestBody", {}).get("content", {}).get("application/json")
    if media is None:
        return None
    examples: dict[str, Any] = media.get("examples", {})
    first: dict[str, Any] = next(iter(examples.values()), {})
    return first.get("value", {})


def required_query(op: dict[str, Any]) -> dict[str, str]:
    fill = {"interval": "1h", "type": "trip", "bucketId": "0" * 24}
    return {p["name"]: fill[p["name"]] for p in op.get("parameters", []) if p["in"] == "query" and p.get("required")}


def unrelated_scope(path: str) -> str:
    """A scope of a resource the route does not touch: its key is valid, but not for this route."""
    words = set(re.findall(r"[a-z]+", path))
    return next(
        s for s in ("api-keys:read", "sensors:read", "integrations:read") if s.split(":")[0].split("-")[0] not in words
    )


def keyed(op: dict[str, Any]) -> bool:
    return secured_by(op, "ApiKey", "BucketApiKey")


def has_example_body(op: dict[str, Any]) -> bool:
    media = op.get("requestBody", {}).get("content", {}).get("application/json")
    return media is None or bool(media.get("examples"))


def test_every_keyed_route_with_a_body_documents_an_example_of_it() -> None:
    """Without one the 403 test below would send an invalid body, and validation answers 400 before
    the handler checks the scope."""
    assert [(m, p) for m, p, op in OPERATIONS if keyed(op) and not has_example_body(op)] == []


@pytest.mark.parametrize(("method", "path", "op"), [o for o in OPERATIONS if keyed(o[2])], ids=ids)
def test_a_key_without_the_routes_scope_is_403_on_every_keyed_route(
    platform: Platform, method: str, path: str, op: dict[str, Any]
) -> None:
    assert documents(op, 403)
    key = platform.key("org-every-route", scopes=[unrelated_scope(path)])
    answer = platform.call(method.upper(), concrete(path), example_body(op), key=key, query=required_query(op))
    assert answer.status == 403, (answer.status, answer.body)
