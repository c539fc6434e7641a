"""A filtered key inside its filter keeps working on the bucket routes, and sees only what its
filter reaches: a key limited to one data source's thing reads that bucket and that source only;
a key limited to the bucket's fleet reaches every source of it."""

from __future__ import annotations

from typing import Any

import pytest

from tests.integration.conftest import Platform, drain

T0 = "2024-06-21T08:00:00Z"


@pytest.fixture(scope="module")
def world(platform: Platform) -> dict[str, Any]:
    key = platform.key("dk-filters")
    bucket = platform.call("POST", "/v2/buckets", {"name": "home"}, key=key).body
    schema = {"v": {"type": "number"}}
    a = platform.call("POST", f"/v2/buckets/{bucket['id']}/data-sources", {"name": "a", "schema": schema}, key=key)
    b = platform.call("POST", f"/v2/buckets/{bucket['id']}/data-sources", {"name": "b", "schema": schema}, key=key)
    assert a.status == b.status == 201
    return {"key": key, "bucket": bucket, "a": a.body, "b": b.body}


def _point(w: dict[str, Any], source: str, v: float) -> dict[str, Any]:
    return {"bucketId": w["bucket"]["id"], "dataSourceId": w[source]["id"], "timestamp": T0, "values": {"v": v}}


def test_a_key_limited_to_one_data_sources_thing(platform: Platform, world: dict[str, Any]) -> None:
    limited = platform.key("dk-filters", things=[world["a"]["thingId"]])
    h = {"X-API-Key": limited}
    bucket_id = world["bucket"]["id"]
    assert platform.call("GET", f"/v2/buckets/{bucket_id}", key=limited).status == 200
    assert [b["id"] for b in platform.call("GET", "/v2/buckets", key=limited).body["items"]] == [bucket_id]
    sources = platform.call("GET", f"/v2/buckets/{bucket_id}/data-sources", key=limited).body["items"]
    assert [s["id"] for s in sources] == [world["a"]["id"]]
    assert platform.call("POST", "/api/data", _point(world, "a", 1.0), headers=h).status == 201
    other = platform.call("POST", "/api/data", _point(world, "b", 2.0), headers=h)
    assert other.status == 404 and other.body == {"error": "Not Found", "message": "Data source not found"}
    batch = {"bucketId": bucket_id, "dataPoints": [_point(world, "a", 3.0), _point(world, "b", 4.0)]}
    assert platform.call("POST", "/api/data/batch", batch, headers=h).status == 404  # all or nothing
    assert (
        platform.call("POST", "/api/data", _point(world, "b", 5.0), headers={"X-API-Key": world["key"]}).status == 201
    )
    drain(platform)
    read = platform.call("GET", "/api/data", headers=h, query={"bucketId": bucket_id})
    assert read.status == 200 and [p["dataSourceId"] for p in read.body["dataPoints"]] == [world["a"]["id"]]
    q = {"bucketId": bucket_id, "dataSourceId": world["b"]["id"]}
    assert platform.call("GET", "/api/data", headers=h, query=q).status == 404
    # its thing's place listing shows that thing only
    things = platform.call("GET", f"/v2/fleets/{world['bucket']['fleetId']}/things", key=limited)
    assert things.status == 200 and [t["id"] for t in things.body["items"]] == [world["a"]["thingId"]]


def test_a_key_limited_to_the_buckets_fleet_reaches_every_source(platform: Platform, world: dict[str, Any]) -> None:
    limited = platform.key("dk-filters", places=[world["bucket"]["fleetId"]])
    bucket_id = world["bucket"]["id"]
    sources = platform.call("GET", f"/v2/buckets/{bucket_id}/data-sources", key=limited).body["items"]
    assert {s["id"] for s in sources} == {world["a"]["id"], world["b"]["id"]}
    for source in ("a", "b"):
        assert (
            platform.call("POST", "/api/data", _point(world, source, 6.0), headers={"X-API-Key": limited}).status == 201
        )
    # creating stays refused: a filtered key must not widen its own reach
    created = platform.call(
        "POST", f"/v2/buckets/{bucket_id}/data-sources", {"name": "c", "schema": {"v": {"type": "number"}}}, key=limited
    )
    assert created.status == 403
