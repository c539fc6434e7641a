"""The stream ingest document, rule by rule, against a local stack over HTTP. The document has no
runnable example (its payload is a schema sketch), so each sentence becomes one request built from
its words: the payload shape, the example timestamp '2022-10-01 00:00:00', 201 on success, rejected
minutes/seconds, at most 10 dimensions, up to four versions of a name by aggregation function, and
the update of a data point by resending series + timestamp. Only the base URL and token differ."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import requests

from tests.contract.dakkio.stack import eventually, issue_key, running_stack


class World:
    def __init__(self, url: str) -> None:
        self.url = url
        self.key = issue_key("stream-contract", scopes=["streams:read", "streams:write"])
        created = requests.post(
            f"{url}/v2/data-streams", json={"name": "contract"}, headers={"X-Api-Key": self.key}, timeout=10
        )
        assert created.status_code == 201
        self.token = created.json()["token"]

    def ingest(self, agg: str, data: list[dict[str, Any]]) -> requests.Response:
        payload = {"data_stream_token": self.token, "metric_agg_func": agg, "data": data}
        return requests.post(f"{self.url}/api/streams/ingest", json=payload, timeout=10)

    def hourly(self, metric: str, agg: str, **params: str) -> list[dict[str, Any]]:
        r = requests.get(
            f"{self.url}/v2/data-streams/metrics/{metric}",
            headers={"X-Api-Key": self.key},
            timeout=10,
            params={"agg": agg, "start": "2022-10-01T00:00:00Z", "end": "2022-10-02T00:00:00Z", **params},
        )
        assert r.status_code == 200, r.text
        return list(r.json()["groups"])


@pytest.fixture(scope="module")
def world() -> Iterator[World]:
    with running_stack() as stack:
        yield World(stack.url)


def item(value: Any, ts: str = "2022-10-01 00:00:00", **dims: str) -> dict[str, Any]:
    return {"timestamp": ts, "metric_name": "unit_cost", "metric_value": value, "custom_dimensions": dims}


def test_valid_payload_is_201(world: World) -> None:
    out = world.ingest("Sum", [item(12.5, service="api"), item("3.5", service="db")])
    assert out.status_code == 201
    assert out.json() == {"ingested": 2, "series": 2, "metric_agg_func": "Sum"}


@pytest.mark.parametrize("ts", ["2022-10-01 00:01:00", "2022-10-01 00:00:30", "2022-10-01 00:00:00.250"])
def test_minutes_seconds_are_rejected(world: World, ts: str) -> None:
    out = world.ingest("Sum", [item(1), item(1, ts=ts)])
    assert out.status_code == 400
    assert out.headers["Content-Type"] == "application/problem+json"
    assert out.json()["errors"][0]["path"] == "data/1/timestamp"


def test_at_most_ten_dimensions(world: World) -> None:
    assert world.ingest("Sum", [item(1, **{f"d{i}": "x" for i in range(10)})]).status_code == 201
    out = world.ingest("Sum", [item(1, **{f"d{i}": "x" for i in range(11)})])
    assert out.status_code == 400 and out.json()["errors"][0]["path"] == "data/0/custom_dimensions"


def test_four_versions_of_a_name_by_aggregation(world: World) -> None:
    for agg in ("Sum", "Average", "Maximum", "Minimum"):
        assert world.ingest(agg, [{**item(1), "metric_name": "four"}]).status_code == 201
    assert world.ingest("Median", [{**item(1), "metric_name": "four"}]).status_code == 400
    listed = requests.get(f"{world.url}/v2/data-streams/metrics", headers={"X-Api-Key": world.key}, timeout=10)
    aggs = sorted(m["metricAggFunc"] for m in listed.json()["items"] if m["metricName"] == "four")
    assert aggs == ["Average", "Maximum", "Minimum", "Sum"]


def test_resending_series_and_timestamp_updates_the_value(world: World) -> None:
    first = {
        "timestamp": "2022-10-01 05:00:00",
        "metric_name": "updated",
        "metric_value": 1,
        "custom_dimensions": {"a": "1", "b": "2"},
    }
    assert world.ingest("Maximum", [first]).status_code == 201
    assert eventually(lambda: world.hourly("updated", "Maximum"))
    again = {**first, "metric_value": 9, "custom_dimensions": {"b": "2", "a": "1"}}  # same series, keys reordered
    assert world.ingest("Maximum", [again]).status_code == 201
    points = eventually(lambda: [p for g in world.hourly("updated", "Maximum") for p in g["points"] if p["value"] == 9])
    assert points == [{"timestamp": "2022-10-01 05:00:00", "value": 9.0, "count": 1}]
