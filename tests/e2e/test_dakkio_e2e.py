"""Bucket dialect end to end over HTTP: definitions, batch, query, platform visibility, 429."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import requests
from devstack.stack import LocalStack

from tests.contract.dakkio.stack import eventually, issue_key, make_bucket, running_stack

pytestmark = pytest.mark.e2e
BURST = 5


@pytest.fixture(scope="module")
def stack() -> Iterator[LocalStack]:
    with running_stack({"DAKKIO_RATE_BURST": str(BURST), "DAKKIO_RATE_PER_SECOND": "0.2"}) as running:
        yield running


def test_batch_query_and_platform_history(stack: LocalStack) -> None:
    key = issue_key("dakkio-e2e")
    bucket, source, thing = make_bucket(
        stack.url, key, {"temperature": {"type": "number", "required": True}, "online": {"type": "boolean"}}
    )
    points = [
        {
            "dataSourceId": source,
            "timestamp": f"2024-01-15T10:3{i}:00Z",
            "values": {"temperature": 20 + i, "online": True},
            "metadata": {"seq": i},
        }
        for i in range(3)
    ]
    out = requests.post(
        f"{stack.url}/api/data/batch",
        json={"bucketId": bucket, "dataPoints": points},
        headers={"X-API-Key": key},
        timeout=10,
    )
    assert out.status_code == 201 and out.json()["count"] == 3

    def queried() -> list[dict[str, object]] | None:
        r = requests.get(
            f"{stack.url}/api/data", params={"bucketId": bucket, "order": "asc"}, headers={"X-API-Key": key}, timeout=10
        )
        assert r.status_code == 200
        found = r.json()["dataPoints"]
        return found if len(found) == 3 else None

    found = eventually(queried)
    assert found == out.json()["dataPoints"]
    history = requests.get(
        f"{stack.url}/v2/things/{thing}/history",
        headers={"X-Api-Key": key},
        timeout=10,
        params={"start": "2024-01-15T00:00:00Z", "end": "2024-01-16T00:00:00Z"},
    ).json()
    assert [f["metrics"]["temperature"] for f in history["frames"]] == [20.0, 21.0, 22.0]


def test_rate_limit_answers_429_with_retry_after(stack: LocalStack) -> None:
    key = issue_key("dakkio-e2e-rate")
    statuses = []
    for _ in range(BURST + 2):
        r = requests.post(f"{stack.url}/api/data", json={}, headers={"X-API-Key": key}, timeout=10)
        statuses.append(r.status_code)
    assert statuses[:BURST] == [400] * BURST
    assert statuses[BURST:] == [429, 429]
    assert int(r.headers["Retry-After"]) >= 1
    assert r.json()["error"] == "Too Many Requests"
    other = issue_key("dakkio-e2e-rate")
    assert requests.post(f"{stack.url}/api/data", json={}, headers={"X-API-Key": other}, timeout=10).status_code == 400
