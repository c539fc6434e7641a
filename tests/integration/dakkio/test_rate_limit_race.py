"""The dialect's token bucket under real concurrency: threads released together by a barrier take
tokens from one key's state in moto's DynamoDB (the definitions table as template.yaml defines it).

Under the limit nothing may be refused, however often the conditional writes collide (issue 8.2:
the old limiter gave up after 3 lost writes and answered 429 to 13-16 of 40 requests of 6 clients
with a burst of 100). Over the limit the surplus is still refused with the documented 429.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import boto3
import pytest
from moto import mock_aws
from telemetry.adapters.items_dynamodb import DynamoDbItemStore
from telemetry.errors import RateLimited
from telemetry.http.dakkio import error_response
from telemetry.models.auth import Principal
from telemetry.services.dakkio.ratelimit import RateLimit, TokenBucketLimiter

from tests.integration.conftest import create_table_from_template, serialize_moto_dynamodb

pytestmark = pytest.mark.usefixtures("fake_aws_env")

WHO = Principal(org_id="org_rl", key_id="key_rl", scopes=frozenset({"*"}))


@pytest.fixture
def store(monkeypatch: pytest.MonkeyPatch) -> Iterator[DynamoDbItemStore]:
    serialize_moto_dynamodb(monkeypatch)  # so the race under test is the limiter's own
    with mock_aws():
        client = boto3.client("dynamodb", region_name="us-east-1")
        create_table_from_template(client, "DefinitionsTable", "definitions")
        yield DynamoDbItemStore("definitions", client)


def race(limiter: TokenBucketLimiter, clients: int, requests: int) -> tuple[int, list[RateLimited]]:
    """``requests`` takes spread over ``clients`` threads that all start at the same instant."""
    barrier = threading.Barrier(clients)
    share = [requests // clients + (1 if i < requests % clients else 0) for i in range(clients)]

    def client(n: int) -> tuple[int, list[RateLimited]]:
        barrier.wait()
        ok, refused = 0, []
        for _ in range(n):
            try:
                limiter.take(WHO)
                ok += 1
            except RateLimited as err:
                refused.append(err)
        return ok, refused

    with ThreadPoolExecutor(clients) as pool:
        results = list(pool.map(client, share))
    return sum(r[0] for r in results), [e for r in results for e in r[1]]


def test_concurrent_requests_under_the_limit_are_never_refused(store: DynamoDbItemStore) -> None:
    limiter = TokenBucketLimiter(store, RateLimit(burst=100, per_second=0.001))
    accepted, refused = race(limiter, clients=6, requests=40)
    assert refused == [] and accepted == 40
    accepted, refused = race(limiter, clients=32, requests=56)  # 96 of 100: still under the limit
    assert refused == [] and accepted == 56
    left = store.get("ORG#org_rl", "RATE#dakkio#key_rl")
    assert left is not None and 3.9 < float(left.doc["tokens"]) < 4.1  # every take was counted once


def test_over_the_limit_is_still_refused_with_the_documented_429(store: DynamoDbItemStore) -> None:
    limiter = TokenBucketLimiter(store, RateLimit(burst=20, per_second=0.001))
    accepted, refused = race(limiter, clients=8, requests=40)
    assert accepted == 20 and len(refused) == 20
    status, headers, body = error_response(refused[0])
    assert status == 429 and int(headers["Retry-After"]) >= 1
    assert body == {
        "error": "Too Many Requests",
        "message": f"Rate limit exceeded. Retry after {headers['Retry-After']} second(s).",
    }
