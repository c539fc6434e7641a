"""Over the limit, ``POST /api/data`` answers the documented 429 through the real handler."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from telemetry.bootstrap import container
from telemetry.services.dakkio.ratelimit import RateLimit, TokenBucketLimiter

from tests.integration.conftest import Platform


@pytest.fixture
def small_limit(platform: Platform) -> Iterator[None]:
    services = container().dakkio
    saved = services.__dict__.pop("limiter", None)
    services.__dict__["limiter"] = TokenBucketLimiter(services.base.repo.store, RateLimit(burst=2, per_second=0.01))
    yield
    services.__dict__.pop("limiter", None)
    if saved is not None:
        services.__dict__["limiter"] = saved


@pytest.mark.usefixtures("small_limit")
def test_over_the_limit_is_429_with_retry_after(platform: Platform) -> None:
    key = platform.key("dk-limit")
    bucket = platform.call("POST", "/v2/buckets", {"name": "b"}, key=key).body["id"]
    source = platform.call(
        "POST", f"/v2/buckets/{bucket}/data-sources", {"name": "d", "schema": {"v": {"type": "number"}}}, key=key
    ).body["id"]
    point = {"bucketId": bucket, "dataSourceId": source, "values": {"v": 1}}
    answers = [platform.call("POST", "/api/data", point, headers={"X-API-Key": key}) for _ in range(3)]
    assert [a.status for a in answers] == [201, 201, 429]
    refused = answers[2]
    wait = refused.header("Retry-After")
    assert wait is not None and int(wait) >= 1
    assert refused.header("Content-Type") == "application/json"
    assert refused.body == {
        "error": "Too Many Requests",
        "message": f"Rate limit exceeded. Retry after {wait} second(s).",
    }
