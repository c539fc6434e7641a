"""Key management (issue 8.9) through the real routing, authorizer (with its result cache) and
handlers, under moto: create / list / get / revoke, no privilege escalation, expiry, and
revocation effective within 60 s on every route."""

from __future__ import annotations

import time
from collections.abc import Iterator
from types import SimpleNamespace
from typing import Any

import pytest

from tests.integration.conftest import Platform

SECRET_FIELDS = {"key", "keyHash"}
OUT_FIELDS = {"id", "prefix", "scopes", "filters", "createdAt", "revoked"}


def create(p: Platform, key: str, **body: Any) -> Any:
    return p.call("POST", "/v2/api-keys", {"name": "k", "scopes": ["metrics:read"], **body}, key=key)


@pytest.fixture
def advance(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """Move the local gateway's clock (its authorizer cache) forward by ``seconds``."""
    import devstack.gateway.authorizer as gw  # the authorizer cache keeps its expiry on this clock

    offset = [0.0]
    fake = SimpleNamespace(monotonic=lambda: time.monotonic() + offset[0], time=time.time, sleep=time.sleep)
    monkeypatch.setattr(gw, "time", fake)

    def forward(seconds: float) -> None:
        offset[0] += seconds

    yield forward


@pytest.fixture
def fake_now(monkeypatch: pytest.MonkeyPatch) -> Any:
    """Move the domain's clock (key expiry) forward by ``seconds``."""
    import telemetry.http.app as http_app
    import telemetry.services.auth as auth
    import telemetry.services.authn as authn

    def forward(seconds: float) -> None:
        later = time.time_ns() // 1_000_000 + int(seconds * 1000)
        monkeypatch.setattr(auth, "now_ms", lambda: later)
        monkeypatch.setattr(authn, "now_ms", lambda: later)  # the expiry check of authenticating
        monkeypatch.setattr(http_app, "now_ms", lambda: later)

    return forward


def test_create_list_get_revoke_round_trip(platform: Platform) -> None:
    admin = platform.key("keys-acme")
    made = create(platform, admin, name="ci reader", expiresAt="2099-01-01T00:00:00Z")
    assert made.status == 201, made
    assert made.header("Content-Type") == "application/json"
    body = made.body
    assert body["key"].startswith("avy_") and body["prefix"] == body["key"][:10]
    assert OUT_FIELDS | {"name"} <= set(body) and "keyHash" not in body
    assert (body["name"], body["scopes"], body["revoked"]) == ("ci reader", ["metrics:read"], False)
    assert body["expiresAt"] == "2099-01-01T00:00:00Z"
    assert body["filters"] == {"places": [], "things": []}
    # the new key works, with its scope only
    assert platform.call("GET", "/v2/definitions/metrics", key=body["key"]).status == 200
    assert platform.call("GET", "/v2/sites", key=body["key"]).status == 403

    listed = platform.call("GET", "/v2/api-keys", key=admin)
    assert listed.status == 200
    ids = [i["id"] for i in listed.body["items"]]
    assert body["id"] in ids and len(ids) == 2  # the admin key and the new one
    for item in listed.body["items"]:
        assert not SECRET_FIELDS & set(item), item
        assert set(item) >= OUT_FIELDS

    got = platform.call("GET", f"/v2/api-keys/{body['id']}", key=admin)
    assert got.status == 200
    assert {k: v for k, v in body.items() if k != "key"} == got.body

    gone = platform.call("DELETE", f"/v2/api-keys/{body['id']}", key=admin)
    assert (gone.status, gone.body) == (204, None)
    after = platform.call("GET", f"/v2/api-keys/{body['id']}", key=admin).body
    assert after["revoked"] is True and after["revokedAt"]
    assert platform.call("DELETE", f"/v2/api-keys/{body['id']}", key=admin).status == 204  # idempotent


def test_list_is_paginated(platform: Platform) -> None:
    admin = platform.key("keys-pages")
    made = {create(platform, admin, name=f"k{i}").body["id"] for i in range(3)}
    seen: list[str] = []
    token = None
    while True:
        query = {"pageLimit": 2} | ({"continuationToken": token} if token else {})
        page = platform.call("GET", "/v2/api-keys", key=admin, query=query).body
        assert len(page["items"]) <= 2
        seen += [i["id"] for i in page["items"]]
        token = page.get("continuationToken")
        if not token:
            break
    assert len(seen) == len(set(seen)) == 4 and made <= set(seen)


@pytest.mark.parametrize(
    ("method", "path", "scope"),
    [
        ("POST", "/v2/api-keys", "api-keys:write"),
        ("GET", "/v2/api-keys", "api-keys:read"),
        ("GET", "/v2/api-keys/{id}", "api-keys:read"),
        ("DELETE", "/v2/api-keys/{id}", "api-keys:write"),
    ],
)
def test_key_without_the_scope_is_403(platform: Platform, method: str, path: str, scope: str) -> None:
    from telemetry.models.auth import SCOPES

    admin = platform.key("keys-scope")
    victim = create(platform, admin).body["id"]
    lacking = platform.key("keys-scope", scopes=[s for s in SCOPES if s != scope])
    body = {"name": "k", "scopes": ["metrics:read"]} if method == "POST" else None
    answer = platform.call(method, path.replace("{id}", victim), body, key=lacking)
    assert answer.status == 403, answer
    assert answer.header("Content-Type") == "application/problem+json"
    assert scope in answer.body["detail"]
    assert platform.call("GET", f"/v2/api-keys/{victim}", key=admin).body["revoked"] is False


@pytest.mark.parametrize("method", ["GET", "DELETE"])
def test_another_organizations_key_is_404(platform: Platform, method: str) -> None:
    mine = create(platform, platform.key("keys-one")).body["id"]
    other = platform.key("keys-two")
    answer = platform.call(method, f"/v2/api-keys/{mine}", key=other)
    assert answer.status == 404, answer
    assert answer.body["type"] == "urn:telemetry:problem:not-found"
    missing = platform.call(method, "/v2/api-keys/key_doesnotexist0000", key=other)
    assert (missing.status, missing.body["type"]) == (404, answer.body["type"])
    assert platform.call("GET", "/v2/api-keys", key=other).body["items"][0]["id"] != mine


def test_no_privilege_escalation(platform: Platform) -> None:
    admin = platform.key("keys-esc")
    site = platform.call("POST", "/v2/sites", {"name": "S"}, key=admin).body["id"]
    other_site = platform.call("POST", "/v2/sites", {"name": "S2"}, key=admin).body["id"]
    limited = platform.key("keys-esc", scopes=["api-keys:write", "metrics:read"], places=[site])
    refused = [
        {"scopes": ["metrics:write"]},  # a scope it lacks
        {"scopes": ["*"]},  # everything
        {"scopes": ["metrics:read"]},  # no filters: wider than its own
        {"scopes": ["metrics:read"], "filters": {"places": [site, other_site]}},
        {"scopes": ["metrics:read"], "filters": {"things": ["thing_elsewhere00000000"]}},
    ]
    for body in refused:
        answer = create(platform, limited, **body)
        assert answer.status == 403, (body, answer)
        assert answer.body["type"] == "urn:telemetry:problem:forbidden"
    ok = create(platform, limited, scopes=["metrics:read"], filters={"places": [site]})
    assert ok.status == 201, ok
    assert ok.body["filters"] == {"places": [site], "things": []}
    # nor can it revoke a key stronger than itself: one inside its filters (visible) is 403 ...
    stronger = create(platform, admin, scopes=["*"], filters={"places": [site]}).body["id"]
    assert platform.call("DELETE", f"/v2/api-keys/{stronger}", key=limited).status == 403
    # ... and the unlimited admin key, which it may not even see, is 404 as for GET
    admin_id = platform.call("GET", "/v2/api-keys", key=admin).body["items"]
    strongest = next(i["id"] for i in admin_id if i["scopes"] == ["*"] and not i["filters"]["places"])
    assert platform.call("DELETE", f"/v2/api-keys/{strongest}", key=limited).status == 404


def test_an_expiring_key_cannot_mint_a_longer_lived_one(platform: Platform) -> None:
    admin = platform.key("keys-life")
    temp = create(platform, admin, scopes=["api-keys:write", "metrics:read"], expiresAt="2090-01-01T00:00:00Z")
    for body in ({}, {"expiresAt": "2095-01-01T00:00:00Z"}):
        assert create(platform, temp.body["key"], **body).status == 403
    assert create(platform, temp.body["key"], expiresAt="2089-01-01T00:00:00Z").status == 201


@pytest.mark.parametrize(
    "body",
    [
        {"name": "k", "scopes": ["metrics:read"], "expiresAt": "2001-01-01T00:00:00Z"},  # past
        {"name": "k", "scopes": ["metrics:read"], "expiresAt": "2099-01-01T00:00:00"},  # no offset
        {"name": "k", "scopes": ["metrics:read"], "expiresAt": "9999-12-31T23:59:59-14:00"},  # after year 9999 UTC
        {"name": "k", "scopes": ["no-such:scope"]},
        {"name": "k", "scopes": []},
        {"scopes": ["metrics:read"]},
        {"name": "k", "scopes": ["metrics:read"], "keyHash": "x"},
    ],
)
def test_invalid_creations_are_400(platform: Platform, body: dict[str, Any]) -> None:
    answer = platform.call("POST", "/v2/api-keys", body, key=platform.key("keys-bad"))
    assert answer.status == 400, answer
    assert answer.header("Content-Type") == "application/problem+json"


def test_revoked_key_is_refused_within_60_s_on_every_route(platform: Platform, advance: Any) -> None:
    from devstack.template import Template

    from tests.integration.conftest import REPO

    ttls = [
        a.reauthorize_every
        for api in Template.load(REPO / "template.yaml").apis().values()
        for a in api.authorizers.values()
    ]
    assert ttls and all(0 < t <= 60 for t in ttls), ttls

    admin = platform.key("keys-revoke")
    made = create(platform, admin, scopes=["*"]).body
    victim = made["key"]
    assert platform.call("GET", "/v2/sites", key=victim).status == 200  # now in the authorizer cache
    dialect_before = platform.call("GET", "/api/data", key=victim)
    assert dialect_before.status != 401, dialect_before
    assert platform.call("DELETE", f"/v2/api-keys/{made['id']}", key=admin).status == 204

    # dialect routes check the key on every request: refused at once
    assert platform.call("GET", "/api/data", key=victim).status == 401
    # authorizer routes: refused once the cache entry ends, which is at most 60 s later
    advance(60.5)
    for method, path in (("GET", "/v2/sites"), ("GET", "/v2/definitions/metrics"), ("POST", "/v2/api-keys")):
        answer = platform.call(method, path, {"name": "k", "scopes": ["*"]} if method == "POST" else None, key=victim)
        assert answer.status == 401, (path, answer)
        assert answer.body["type"] == "urn:telemetry:problem:unauthenticated"
    assert platform.call("GET", "/v2/sites", key=admin).status == 200


def test_expired_key_is_401_even_while_cached(platform: Platform, fake_now: Any) -> None:
    admin = platform.key("keys-expire")
    soon = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + 3600))
    made = create(platform, admin, expiresAt=soon).body
    assert platform.call("GET", "/v2/definitions/metrics", key=made["key"]).status == 200  # cached now
    fake_now(3601)
    cached = platform.call("GET", "/v2/definitions/metrics", key=made["key"])
    assert cached.status == 401, cached  # refused by the handler although the cache still allows it
    assert cached.body["type"] == "urn:telemetry:problem:unauthenticated"
    platform.gateway.cache.clear()
    fresh = platform.call("GET", "/v2/definitions/metrics", key=made["key"])
    assert fresh.status == 401, fresh  # refused by the authorizer
    assert platform.call("GET", "/api/data", key=made["key"]).status == 401  # and by the bucket dialect


def test_two_api_key_headers_are_401(platform: Platform) -> None:
    good = platform.key("keys-dup")
    answer = platform.call("GET", "/v2/sites", key=good, headers={"x-api-key": "avy_never-issued"})
    assert answer.status == 401, answer
    both_good = platform.call("GET", "/v2/definitions/metrics", key=good, headers={"x-api-key": good})
    assert both_good.status == 401, both_good


def test_two_api_key_headers_are_401_even_when_one_is_cached(platform: Platform) -> None:
    good = platform.key("keys-dup-cached")
    assert platform.call("GET", "/v2/sites", key=good).status == 200  # cached under the good key
    for extra in ({"x-api-key": "avy_never-issued"}, {"x-api-key": good}):
        answer = platform.call("GET", "/v2/sites", key=good, headers=extra)
        assert answer.status == 401, (extra, answer)
    never = platform.call("GET", "/v2/sites", key="avy_never-issued", headers={"x-api-key": good})
    assert never.status == 401, never
    assert platform.call("GET", "/v2/sites", key="avy_never-issued").status == 401


def test_a_place_filtered_key_can_narrow_to_a_thing_of_its_place(platform: Platform) -> None:
    admin = platform.key("keys-narrow")
    mid = platform.call(
        "POST",
        "/v2/definitions/metrics",
        {"name": "soc", "dataType": "Double", "defaultAggregation": "Last"},
        key=admin,
    ).body["id"]
    ttype = platform.call("POST", "/v2/definitions/thing-types", {"displayName": "B", "metricIds": [mid]}, key=admin)
    sites = [platform.call("POST", "/v2/sites", {"name": n}, key=admin).body["id"] for n in ("in", "out")]
    things = [
        platform.call(
            "POST", f"/v2/sites/{s}/things", {"thingName": "t", "thingTypeId": ttype.body["id"]}, key=admin
        ).body["id"]
        for s in sites
    ]
    limited = platform.key("keys-narrow", scopes=["api-keys:write", "things:read"], places=[sites[0]])
    inside = create(platform, limited, scopes=["things:read"], filters={"things": [things[0]]})
    assert inside.status == 201, inside
    narrow = inside.body["key"]
    assert platform.call("GET", f"/v2/things/{things[0]}", key=narrow).status == 200
    assert create(platform, limited, scopes=["things:read"], filters={"things": [things[1]]}).status == 403


def test_two_api_key_headers_are_401_on_the_bucket_dialect(platform: Platform) -> None:
    good = platform.key("keys-dup-dakkio")
    assert platform.call("GET", "/api/data", key=good).status != 401
    for first, second in ((good, "avy_never-issued"), ("avy_never-issued", good), (good, good)):
        answer = platform.call("GET", "/api/data", key=first, headers={"x-api-key": second})
        assert answer.status == 401, (first, second, answer)


def test_a_filtered_key_sees_only_keys_inside_its_filters(platform: Platform) -> None:
    admin = platform.key("keys-see")
    sites = [platform.call("POST", "/v2/sites", {"name": n}, key=admin).body["id"] for n in ("a", "b")]
    reader = platform.key("keys-see", scopes=["api-keys:read", "api-keys:write", "places:read"], places=[sites[0]])
    inside = create(platform, reader, scopes=["places:read"], filters={"places": [sites[0]]}).body["id"]
    outside = create(platform, admin, filters={"places": [sites[1]]}).body["id"]
    listed = {i["id"] for i in platform.call("GET", "/v2/api-keys", key=reader).body["items"]}
    assert inside in listed and outside not in listed and len(listed) == 2  # itself and the inside key
    assert platform.call("GET", f"/v2/api-keys/{outside}", key=reader).status == 404
    assert platform.call("GET", f"/v2/api-keys/{inside}", key=reader).status == 200
    assert len(platform.call("GET", "/v2/api-keys", key=admin).body["items"]) == 4
