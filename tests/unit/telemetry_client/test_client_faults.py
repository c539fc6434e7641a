"""Faults the local stack cannot be made to produce on demand, on an httpx MockTransport:
429/503 with and without ``Retry-After``, a connection that never opens, exhaustion of the
attempts, and an API Gateway body that is not problem+json. (Everything the stack can answer,
including every 4xx family, is tested against it in tests/e2e/test_telemetry_client_e2e.py.)"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Callable

import httpx
import pytest
from telemetry_client import AsyncClient, BadRequest, Client, NotFound, RateLimited, RetryPolicy, ServiceUnavailable

PROBLEM = {"type": "urn:telemetry:problem:service-unavailable", "title": "Service unavailable", "status": 503}


def scripted(*answers: httpx.Response | Exception) -> tuple[httpx.MockTransport, list[httpx.Request]]:
    seen: list[httpx.Request] = []
    queue = list(answers)

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        answer = queue.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer

    return httpx.MockTransport(handler), seen


def client(transport: httpx.MockTransport, waits: list[float], **retry: object) -> Client:
    policy = RetryPolicy(rng=random.Random(0), **retry)  # type: ignore[arg-type]
    return Client("http://api.test", "avy_k", transport=transport, retry=policy, sleep=waits.append)


def ok() -> httpx.Response:
    return httpx.Response(200, json={"id": "site_1"})


def test_429_waits_for_retry_after_then_succeeds() -> None:
    transport, seen = scripted(httpx.Response(429, headers={"Retry-After": "3"}, json={}), ok())
    waits: list[float] = []
    assert client(transport, waits).get_site("site_1") == {"id": "site_1"}
    assert len(seen) == 2 and 3.0 <= waits[0] <= 3.3  # Retry-After, plus at most 10 % jitter


def test_503_without_retry_after_backs_off_exponentially_with_jitter() -> None:
    transport, seen = scripted(*(httpx.Response(503, json=PROBLEM) for _ in range(3)), ok())
    waits: list[float] = []
    client(transport, waits, backoff=1.0).get_site("site_1")
    assert len(seen) == 4 and len(waits) == 3
    assert all(0 <= w <= 1.0 * 2**k for k, w in enumerate(waits)) and len(set(waits)) == 3


def test_gives_up_after_the_attempts_with_the_typed_error() -> None:
    transport, seen = scripted(*(httpx.Response(503, json=PROBLEM) for _ in range(3)))
    with pytest.raises(ServiceUnavailable) as raised:
        client(transport, [], attempts=3).get_site("site_1")
    assert len(seen) == 3 and raised.value.title == "Service unavailable" and raised.value.status == 503


def test_a_retry_after_beyond_the_cap_is_raised_not_slept() -> None:
    transport, seen = scripted(httpx.Response(429, headers={"Retry-After": "600"}, json={"title": "Too many requests"}))
    waits: list[float] = []
    with pytest.raises(RateLimited) as raised:
        client(transport, waits, max_retry_after=60).get_site("site_1")
    assert waits == [] and len(seen) == 1 and raised.value.retry_after == 600


@pytest.mark.parametrize("status", [400, 401, 403, 404, 409, 413, 422, 424])
def test_never_retries_other_4xx(status: int) -> None:
    transport, seen = scripted(httpx.Response(status, json={"type": "t", "title": "no", "status": status}))
    with pytest.raises(Exception) as raised:
        client(transport, []).get_site("site_1")
    assert len(seen) == 1 and raised.value.status == status  # type: ignore[attr-defined]


def test_a_connection_that_never_opened_is_retried() -> None:
    transport, seen = scripted(httpx.ConnectError("refused"), ok())
    waits: list[float] = []
    assert client(transport, waits).get_site("site_1")["id"] == "site_1" and len(seen) == 2


def test_a_gateway_answer_that_is_not_a_problem_is_still_typed() -> None:
    transport, _ = scripted(httpx.Response(404, json={"message": "Missing Authentication Token"}))
    with pytest.raises(NotFound) as raised:
        client(transport, []).get_site("x")
    assert raised.value.title == "Missing Authentication Token"


def test_a_refused_part_of_a_split_send_says_where_it_starts_and_what_was_accepted() -> None:
    answers = [httpx.Response(200, json={"thingId": "t", "framesIngested": 10_000, "metrics": ["v"]}),
               httpx.Response(400, json={"type": "v", "title": "Validation failed", "status": 400,
                                         "errors": [{"path": "frames/3/metrics/v", "message": "bad"}]})]  # fmt: skip
    transport, seen = scripted(*answers)
    frames = [{"timestamp": i, "metrics": {"v": 1}} for i in range(10_005)]
    with pytest.raises(BadRequest) as raised:
        client(transport, []).send_frames("t", frames)  # type: ignore[arg-type]
    assert len(seen) == 2 and raised.value.offset == 10_000  # type: ignore[attr-defined]
    assert raised.value.sent["framesIngested"] == 10_000 and raised.value.errors[0]["path"] == "frames/3/metrics/v"  # type: ignore[attr-defined]


def test_the_async_client_retries_the_same_way() -> None:
    waits: list[float] = []

    async def sleep(seconds: float) -> None:
        waits.append(seconds)

    answers: list[Callable[[], httpx.Response]] = [
        lambda: httpx.Response(429, headers={"Retry-After": "1"}, json={}),
        lambda: httpx.Response(
            400, json={"type": "t", "title": "bad", "status": 400, "errors": [{"path": "name", "message": "m"}]}
        ),
    ]

    async def handler(request: httpx.Request) -> httpx.Response:
        return answers.pop(0)()

    async def scenario() -> BadRequest:
        async with AsyncClient("http://api.test", "k", transport=httpx.MockTransport(handler), sleep=sleep) as api:
            with pytest.raises(BadRequest) as raised:
                await api.create_site({"name": ""})
            return raised.value

    error = asyncio.run(scenario())
    assert len(waits) == 1 and 1.0 <= waits[0] <= 1.1 and error.errors == [{"path": "name", "message": "m"}]
