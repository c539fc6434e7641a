"""Stream dialect handlers under moto: template routes (Auth NONE on ingest), authorizer, writer."""

from __future__ import annotations

from typing import Any

import pytest

from tests.integration.conftest import Platform, drain


@pytest.fixture(scope="module")
def key(platform: Platform) -> str:
    return platform.key("ct-acme", scopes=["streams:read", "streams:write"])


def _token(p: Platform, key: str) -> tuple[str, str]:
    out = p.call("POST", "/v2/data-streams", {"name": "costs"}, key=key)
    assert out.status == 201, out.body
    return out.body["id"], out.body["token"]


def _ingest(p: Platform, token: str, data: list[dict[str, Any]], agg: str = "Sum") -> Any:
    return p.call("POST", "/api/streams/ingest", {"data_stream_token": token, "metric_agg_func": agg, "data": data})


def test_ingest_upsert_and_query(platform: Platform, key: str) -> None:
    _, token = _token(platform, key)
    item = {
        "timestamp": "2022-10-01 00:00:00",
        "metric_name": "cost",
        "metric_value": 1.5,
        "custom_dimensions": {"team": "a", "env": "p"},
    }
    out = _ingest(platform, token, [item])
    assert out.status == 201 and out.body == {"ingested": 1, "series": 1, "metric_agg_func": "Sum"}
    drain(platform)
    swapped = {**item, "metric_value": "4", "custom_dimensions": {"env": "p", "team": "a"}}
    assert _ingest(platform, token, [swapped]).status == 201
    drain(platform)
    q = platform.call(
        "GET",
        "/v2/data-streams/metrics/cost",
        key=key,
        query={"start": "2022-10-01T00:00:00Z", "end": "2022-10-02T00:00:00Z", "groupBy": "team"},
    )
    assert q.status == 200, q.body
    assert q.body["groups"] == [
        {"dimensions": {"team": "a"}, "points": [{"timestamp": "2022-10-01 00:00:00", "value": 4.0, "count": 1}]}
    ]
    listed = platform.call("GET", "/v2/data-streams/metrics", key=key)
    assert {"metricName": "cost", "metricAggFunc": "Sum", "series": 1} in listed.body["items"]


def test_errors_are_problem_json_naming_index_and_field(platform: Platform, key: str) -> None:
    _, token = _token(platform, key)
    out = _ingest(
        platform,
        token,
        [
            {"timestamp": "2022-10-01 00:00:00", "metric_name": "m", "metric_value": 1},
            {"timestamp": "2022-10-01 10:30:00", "metric_name": "m", "metric_value": 1},
        ],
    )
    assert out.status == 400
    assert out.header("Content-Type") == "application/problem+json"
    assert out.body["errors"] == [
        {
            "path": "data/1/timestamp",
            "message": "must have hourly granularity: minutes, seconds and fractions must be zero",
        }
    ]
    bad_json = platform.call("POST", "/api/streams/ingest", b"{not json")
    assert bad_json.status == 400 and bad_json.body["type"].endswith("malformed-request")


def test_token_is_the_only_credential_and_revocation_is_immediate(platform: Platform, key: str) -> None:
    stream_id, token = _token(platform, key)
    item = [{"timestamp": "2022-10-01 00:00:00", "metric_name": "m", "metric_value": 1}]
    assert _ingest(platform, token, item).status == 201
    assert _ingest(platform, "ctds_nope", item).status == 401
    # a platform key in the header is no substitute for the body token
    no_token = platform.call("POST", "/api/streams/ingest", {"metric_agg_func": "Sum", "data": item}, key=key)
    assert no_token.status == 401 and no_token.body["type"].endswith("unauthenticated")
    assert platform.call("DELETE", f"/v2/data-streams/{stream_id}", key=key).status == 204
    assert _ingest(platform, token, item).status == 401
    listed = platform.call("GET", "/v2/data-streams", key=key).body["items"]
    assert stream_id not in [s["id"] for s in listed]
    assert all("token" not in s and "tokenHash" not in s for s in listed)


def test_platform_routes_need_the_stream_scopes(platform: Platform) -> None:
    reader = platform.key("ct-acme", scopes=["streams:read"])
    assert platform.call("POST", "/v2/data-streams", {"name": "x"}, key=reader).status == 403
    assert platform.call("GET", "/v2/data-streams", key=reader).status == 200
    assert platform.call("GET", "/v2/data-streams").status == 401
    other = platform.key("ct-other", scopes=["streams:write"])
    stream_id, _ = _token(platform, platform.key("ct-acme"))
    assert platform.call("DELETE", f"/v2/data-streams/{stream_id}", key=other).status == 404
