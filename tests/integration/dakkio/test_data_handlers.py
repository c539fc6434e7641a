"""Bucket dialect handlers under moto: platform definitions, the document's status codes and bodies."""

from __future__ import annotations

from typing import Any

import pytest

from tests.integration.conftest import Platform, drain


@pytest.fixture(scope="module")
def world(platform: Platform) -> dict[str, str]:
    key = platform.key("dk-acme")
    bucket = platform.call("POST", "/v2/buckets", {"name": "home"}, key=key)
    assert bucket.status == 201, bucket.body
    schema = {
        "temperature": {"type": "number", "required": True},
        "humidity": {"type": "integer"},
        "pressure": {"type": "number"},
    }
    source = platform.call(
        "POST", f"/v2/buckets/{bucket.body['id']}/data-sources", {"name": "esp32", "schema": schema}, key=key
    )
    assert source.status == 201, source.body
    assert source.body["schema"]["temperature"] == {"type": "number", "required": True}
    return {"key": key, "bucket": bucket.body["id"], "source": source.body["id"], "thing": source.body["thingId"]}


def _point(world: dict[str, str], **over: Any) -> dict[str, Any]:
    return {
        "bucketId": world["bucket"],
        "dataSourceId": world["source"],
        "timestamp": "2024-01-15T10:30:00Z",
        "values": {"temperature": 22.5, "humidity": 65, "pressure": 1013.25},
        "metadata": {"deviceId": "ESP32-001"},
        **over,
    }


def test_ingest_query_and_platform_history(platform: Platform, world: dict[str, str]) -> None:
    out = platform.call("POST", "/api/data", _point(world), headers={"X-API-Key": world["key"]})
    assert out.status == 201, out.body
    assert out.body["message"] == "Data point ingested successfully"
    drain(platform)
    q = platform.call("GET", "/api/data", headers={"x-api-key": world["key"]}, query={"bucketId": world["bucket"]})
    assert q.status == 200 and q.body["dataPoints"] == [out.body["dataPoint"]]
    h = platform.call(
        "GET",
        f"/v2/things/{world['thing']}/history",
        key=world["key"],
        query={"start": "2024-01-15T00:00:00Z", "end": "2024-01-16T00:00:00Z"},
    )
    assert h.status == 200 and h.body["frames"][0]["metrics"]["temperature"] == 22.5


def test_the_documents_error_bodies(platform: Platform, world: dict[str, str]) -> None:
    h = {"X-API-Key": world["key"]}
    assert platform.call("POST", "/api/data", _point(world)).body == {
        "error": "Unauthorized",
        "message": "Invalid or missing API key",
    }
    wrong = platform.call("POST", "/api/data", _point(world), headers={"X-API-Key": "avy_wrong"})
    assert wrong.status == 401 and wrong.header("Content-Type") == "application/json"
    missing = platform.call("POST", "/api/data", {k: v for k, v in _point(world).items() if k != "bucketId"}, headers=h)
    assert missing.status == 400 and missing.body == {
        "error": "Validation Error",
        "message": "Invalid request parameters",
        "details": [{"path": ["body", "bucketId"], "message": "Expected string, received undefined"}],
    }
    nf = platform.call("POST", "/api/data", _point(world, bucketId="507f1f77bcf86cd799439011"), headers=h)
    assert nf.status == 404 and nf.body == {"error": "Not Found", "message": "Bucket not found"}
    bad = platform.call("POST", "/api/data", b"{nope", headers=h)
    assert bad.status == 400 and bad.body["error"] == "Validation Error"
    reader = platform.key("dk-acme", scopes=["data:read"])
    assert platform.call("POST", "/api/data", _point(world), headers={"X-API-Key": reader}).status == 403


def test_batch(platform: Platform, world: dict[str, str]) -> None:
    h = {"X-API-Key": world["key"]}
    p = {k: v for k, v in _point(world).items() if k != "bucketId"}
    bad = platform.call(
        "POST", "/api/data/batch", {"bucketId": world["bucket"], "dataPoints": [p, {**p, "values": {}}]}, headers=h
    )
    assert bad.status == 400
    assert bad.body["details"][0]["path"] == ["body", "dataPoints", 1, "values", "temperature"]
    ok = platform.call(
        "POST",
        "/api/data/batch",
        {"bucketId": world["bucket"], "dataPoints": [p, {**p, "timestamp": "2024-01-15T11:00:00Z"}]},
        headers=h,
    )
    assert ok.status == 201 and ok.body["count"] == 2 and len(ok.body["dataPoints"]) == 2


def test_bucket_routes_need_scopes_and_tenancy(platform: Platform, world: dict[str, str]) -> None:
    reader = platform.key("dk-acme", scopes=["buckets:read"])
    assert platform.call("POST", "/v2/buckets", {"name": "x"}, key=reader).status == 403
    assert platform.call("GET", f"/v2/buckets/{world['bucket']}", key=reader).status == 200
    listed = platform.call("GET", f"/v2/buckets/{world['bucket']}/data-sources", key=reader)
    assert [s["id"] for s in listed.body["items"]] == [world["source"]]
    other = platform.key("dk-other")
    assert platform.call("GET", f"/v2/buckets/{world['bucket']}", key=other).status == 404
    assert platform.call("POST", "/api/data", _point(world), headers={"X-API-Key": other}).body == {
        "error": "Not Found",
        "message": "Bucket not found",
    }
