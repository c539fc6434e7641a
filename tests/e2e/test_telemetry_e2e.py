"""Issue 3 over HTTP against the local stack, with the writer fed by the local queue poller."""

from __future__ import annotations

import time
from typing import Any

import pytest
import requests

pytestmark = pytest.mark.e2e
T0 = 1718884800000


class Api:
    def __init__(self, base: str, key: str) -> None:
        self.base, self.s = base, requests.Session()
        self.s.headers.update({"X-Api-Key": key})

    def post(self, path: str, body: Any) -> requests.Response:
        return self.s.post(self.base + path, json=body, timeout=10)

    def get(self, path: str, **params: Any) -> Any:
        answer = self.s.get(self.base + path, params=params, timeout=10)
        assert answer.status_code == 200, answer.text
        return answer.json()


@pytest.fixture(scope="module")
def api(local_stack: Any, api_key: str) -> Api:
    return Api(local_stack.url, api_key)


@pytest.fixture
def thing(api: Api) -> str:
    mids = [
        api.post(
            "/v2/definitions/metrics",
            {"name": f"{n}{time.monotonic_ns()}", "dataType": "Double", "defaultAggregation": "Avg"},
        ).json()
        for n in ("v", "i")
    ]
    type_id = api.post(
        "/v2/definitions/thing-types", {"displayName": "Cell", "metricIds": [m["id"] for m in mids]}
    ).json()["id"]
    site = api.post("/v2/sites", {"name": "Lab"}).json()["id"]
    thing_id: str = api.post(f"/v2/sites/{site}/things", {"thingName": "cell", "thingTypeId": type_id}).json()["id"]
    api.names = [m["name"] for m in mids]  # type: ignore[attr-defined]
    return thing_id


def wait_for(api: Api, thing: str, timestamp: int, timeout: float = 5.0) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        latest: dict[str, Any] = api.get(f"/v2/things/{thing}/latest-event")
        if latest["timestamp"] == timestamp or time.monotonic() > deadline:
            return latest
        time.sleep(0.05)


def test_posted_frames_are_readable_within_a_second_and_aggregate(api: Api, thing: str) -> None:
    v, i = api.names  # type: ignore[attr-defined]
    frames = [{"timestamp": T0 + n * 15_000, "metrics": {v: 3.0 + n / 10, i: n}} for n in range(8)]
    start = time.monotonic()
    assert api.post(f"/v2/thing/{thing}/data", {"frames": frames}).status_code == 200
    latest = wait_for(api, thing, frames[-1]["timestamp"])
    elapsed = time.monotonic() - start
    assert latest["metrics"] == {v: 3.7, i: 7.0}
    assert elapsed < 1.5, f"latest-event took {elapsed:.2f}s"
    history = api.get(f"/v2/things/{thing}/history", start=T0, end=T0 + 10**6, metrics=v, pageLimit=5)
    assert len(history["frames"]) == 5 and "continuationToken" in history
    rest = api.get(
        f"/v2/things/{thing}/history",
        start=T0,
        end=T0 + 10**6,
        metrics=v,
        continuationToken=history["continuationToken"],
    )
    assert [f["metrics"][v] for f in history["frames"] + rest["frames"]] == [3.0 + n / 10 for n in range(8)]
    agg = api.get(
        f"/v2/things/{thing}/aggregates", start=T0, end=T0 + 120_000, interval="1m", metrics=f"{v}:Max,{i}:Sum"
    )
    assert [(b["metrics"][v], b["metrics"][i]) for b in agg["buckets"]] == [(3.3, 6.0), (3.7, 22.0)]


def test_out_of_order_backfill_keeps_latest(api: Api, thing: str) -> None:
    v, _ = api.names  # type: ignore[attr-defined]
    api.post(f"/v2/thing/{thing}/data", {"frames": [{"timestamp": T0, "metrics": {v: 9}}]})
    wait_for(api, thing, T0)
    api.post(
        f"/v2/thing/{thing}/data",
        {"frames": [{"timestamp": T0 - 3_600_000 * k, "metrics": {v: k}} for k in range(1, 4)]},
    )
    deadline = time.monotonic() + 5
    while (
        len(api.get(f"/v2/things/{thing}/history", start=T0 - 10**8, end=T0 + 1)["frames"]) < 4
        and time.monotonic() < deadline
    ):
        time.sleep(0.05)
    assert api.get(f"/v2/things/{thing}/latest-event")["metrics"] == {v: 9.0}
    assert len(api.get(f"/v2/things/{thing}/history", start=T0 - 10**8, end=T0 + 1)["frames"]) == 4


def test_a_bad_frame_rejects_the_request_and_nothing_is_stored(api: Api, thing: str) -> None:
    v, i = api.names  # type: ignore[attr-defined]
    frames = [{"timestamp": T0 + n, "metrics": {v: n}} for n in range(20)]
    frames[13]["metrics"][i] = "lots"
    answer = api.post(f"/v2/thing/{thing}/data", {"frames": frames})
    assert answer.status_code == 400 and answer.headers["Content-Type"] == "application/problem+json"
    assert answer.json()["errors"] == [{"path": f"frames/13/metrics/{i}", "message": "expected a number, got 'lots'"}]
    time.sleep(1.0)  # longer than the poller needs to deliver anything that had been queued
    assert api.get(f"/v2/things/{thing}/history", start=T0 - 1, end=T0 + 100)["frames"] == []


@pytest.mark.parametrize("kind", ["sites", "fleets"])
def test_bulk_registration_over_http_creates_every_thing(api: Api, kind: str) -> None:
    """Issue 8.1: a valid array was refused 400 for every request (the handler saw one element)."""
    place = api.post(f"/v2/{kind}", {"name": "Bulk"}).json()["id"]
    answer = api.post(f"/v2/{kind}/{place}/things/bulk", [{"thingName": "one"}, {"thingName": "two"}])
    assert answer.status_code == 201, answer.text
    assert answer.json()["created"] == 2
    names = sorted(t["thingName"] for t in api.get(f"/v2/{kind}/{place}/things")["items"])
    assert names == ["one", "two"]


@pytest.mark.parametrize(
    ("path", "body", "content_type", "status"),
    [
        ("/v2/sites", b"[" * 200_000 + b"]" * 200_000, "application/json", 400),
        ("/v2/sites", b'{"name": "x"}', "multipart/form-data", 415),
        ("/v2/sites", b"name=x", "text/plain", 415),
        (
            "/v2/definitions/metrics",
            b'{"name": "nanrange", "dataType": "Double", "defaultAggregation": "Last", "validRange": {"min": NaN}}',
            "application/json",
            400,
        ),
    ],
    ids=["200k-deep", "multipart-without-boundary", "text-plain", "nan"],
)
def test_bad_bodies_over_http_are_problems_not_500(
    api: Api, path: str, body: bytes, content_type: str, status: int
) -> None:
    """Issue 8.11 over the local gateway: a 500, a non-problem 415, or NaN stored as null."""
    answer = api.s.post(api.base + path, data=body, headers={"Content-Type": content_type}, timeout=10)
    assert answer.status_code == status, answer.text
    assert answer.headers["Content-Type"].startswith("application/problem+json")
    assert answer.json()["status"] == status


def test_an_int_beyond_64_bits_over_http_is_refused_at_the_door(api: Api) -> None:
    """Issue 8.5: 2**63 was answered 200 and then dead-lettered by the writer."""
    metric = api.post(
        "/v2/definitions/metrics",
        {"name": f"n{time.monotonic_ns()}", "dataType": "Int", "defaultAggregation": "Last"},
    ).json()
    type_id = api.post("/v2/definitions/thing-types", {"displayName": "C", "metricIds": [metric["id"]]}).json()["id"]
    site = api.post("/v2/sites", {"name": "Int"}).json()["id"]
    thing = api.post(f"/v2/sites/{site}/things", {"thingName": "c", "thingTypeId": type_id}).json()["id"]
    answer = api.post(f"/v2/thing/{thing}/data", {"frames": [{"timestamp": T0, "metrics": {metric["name"]: 2**63}}]})
    assert answer.status_code == 400, answer.text
    assert answer.json()["errors"][0]["path"] == f"frames/0/metrics/{metric['name']}"


def test_two_requests_with_different_metrics_for_one_instant_keep_both(api: Api, thing: str) -> None:
    """Issue 8.7: the state of charge, then a moment later the temperature, for the same instant."""
    v, i = api.names  # type: ignore[attr-defined]
    at = T0 + 7_777_000
    assert api.post(f"/v2/thing/{thing}/data", {"frames": [{"timestamp": at, "metrics": {v: 3.5}}]}).status_code == 200
    wait_for(api, thing, at)
    assert api.post(f"/v2/thing/{thing}/data", {"frames": [{"timestamp": at, "metrics": {i: 2}}]}).status_code == 200
    deadline = time.monotonic() + 5
    latest = api.get(f"/v2/things/{thing}/latest-event")
    while i not in latest["metrics"] and time.monotonic() < deadline:
        time.sleep(0.05)
        latest = api.get(f"/v2/things/{thing}/latest-event")
    assert latest["timestamp"] == at and latest["metrics"] == {v: 3.5, i: 2.0}
    history = api.get(f"/v2/things/{thing}/history", start=at, end=at + 1)
    assert [f["metrics"] for f in history["frames"]] == [{v: 3.5, i: 2.0}]
    # a later value of one metric replaces that metric only
    assert api.post(f"/v2/thing/{thing}/data", {"frames": [{"timestamp": at, "metrics": {v: 4.5}}]}).status_code == 200
    deadline = time.monotonic() + 5
    while api.get(f"/v2/things/{thing}/latest-event")["metrics"][v] != 4.5 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert api.get(f"/v2/things/{thing}/latest-event")["metrics"] == {v: 4.5, i: 2.0}
    agg = api.get(
        f"/v2/things/{thing}/aggregates", start=at, end=at + 60_000, interval="1m", metrics=f"{v}:Sum,{i}:Count"
    )
    assert [b["metrics"] for b in agg["buckets"]] == [{v: 4.5, i: 1}]
