"""Stream dialect end to end over HTTP: token lifecycle, ingest, the writer, the stream query."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import requests
from devstack.stack import LocalStack

from tests.contract.dakkio.stack import eventually, issue_key, running_stack

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def stack() -> Iterator[LocalStack]:
    with running_stack() as running:
        yield running


def test_token_lifecycle_ingest_and_query(stack: LocalStack) -> None:
    key = issue_key("stream-e2e", scopes=["streams:read", "streams:write"])
    h = {"X-Api-Key": key}
    created = requests.post(f"{stack.url}/v2/data-streams", json={"name": "billing"}, headers=h, timeout=10).json()
    token = created["token"]
    data = [
        {
            "timestamp": f"2022-10-01 {hour:02d}:00:00",
            "metric_name": "cost per user",
            "metric_value": value,
            "custom_dimensions": {"team": team},
        }
        for hour, value, team in [(0, 1.0, "a"), (1, 2.0, "a"), (0, 10.0, "b")]
    ]
    out = requests.post(
        f"{stack.url}/api/streams/ingest",
        json={"data_stream_token": token, "metric_agg_func": "Average", "data": data},
        timeout=10,
    )
    assert out.status_code == 201

    def daily() -> Any:
        r = requests.get(
            f"{stack.url}/v2/data-streams/metrics/cost per user",
            headers=h,
            timeout=10,
            params={
                "granularity": "daily",
                "groupBy": "team",
                "start": "2022-10-01T00:00:00Z",
                "end": "2022-10-02T00:00:00Z",
            },
        )
        assert r.status_code == 200, r.text
        groups = r.json()["groups"]
        return groups if len(groups) == 2 else None

    groups = eventually(daily)
    assert [(g["dimensions"]["team"], g["points"][0]["value"]) for g in groups] == [("a", 1.5), ("b", 10.0)]

    assert requests.delete(f"{stack.url}/v2/data-streams/{created['id']}", headers=h, timeout=10).status_code == 204
    refused = requests.post(
        f"{stack.url}/api/streams/ingest",
        json={"data_stream_token": token, "metric_agg_func": "Average", "data": data},
        timeout=10,
    )
    assert refused.status_code == 401
    assert refused.headers["Content-Type"] == "application/problem+json"
