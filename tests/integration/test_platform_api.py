"""The platform API through the real routing, authorizer and handlers, under moto.

Issue 2's refusals for every endpoint: no key, a wrong key, a key without the scope, another
organization's key (and a key whose resource filter excludes the resource).
"""

from __future__ import annotations

import re
from typing import Any

import pytest

from tests.integration.conftest import Platform

T0 = 1718884800000

#: every platform route of the definitions and telemetry issues, with the scope it needs
ROUTES: dict[tuple[str, str], str] = {
    ("POST", "/v2/definitions/metrics"): "metrics:write",
    ("GET", "/v2/definitions/metrics"): "metrics:read",
    ("GET", "/v2/definitions/metrics/{metricId}"): "metrics:read",
    ("POST", "/v2/definitions/thing-types"): "thing-types:write",
    ("GET", "/v2/definitions/thing-types"): "thing-types:read",
    ("GET", "/v2/definitions/thing-types/{thingTypeId}"): "thing-types:read",
    ("POST", "/v2/definitions/thing-types/{thingTypeId}/versions"): "thing-types:write",
    ("POST", "/v2/sites"): "places:write",
    ("GET", "/v2/sites"): "places:read",
    ("GET", "/v2/sites/{placeId}"): "places:read",
    ("POST", "/v2/fleets"): "places:write",
    ("GET", "/v2/fleets"): "places:read",
    ("GET", "/v2/fleets/{placeId}"): "places:read",
    ("POST", "/v2/sites/{placeId}/things"): "things:write",
    ("POST", "/v2/sites/{placeId}/things/bulk"): "things:write",
    ("GET", "/v2/sites/{placeId}/things"): "things:read",
    ("POST", "/v2/fleets/{placeId}/things"): "things:write",
    ("POST", "/v2/fleets/{placeId}/things/bulk"): "things:write",
    ("GET", "/v2/fleets/{placeId}/things"): "things:read",
    ("GET", "/v2/things/{thingId}"): "things:read",
    ("POST", "/v2/thing/{thingId}/data"): "data:write",
    ("GET", "/v2/things/{thingId}/latest-event"): "data:read",
    ("GET", "/v2/things/{thingId}/history"): "data:read",
    ("GET", "/v2/things/{thingId}/aggregates"): "data:read",
}


class Org:
    """An organization with one of everything, built through the API itself."""

    def __init__(self, p: Platform, name: str) -> None:
        self.p = p
        self.key = p.key(name)
        mid = self.ok(
            "POST", "/v2/definitions/metrics", {"name": "soc", "dataType": "Double", "defaultAggregation": "Last"}
        )["id"]
        self.ids = {"metricId": mid}
        self.ids["thingTypeId"] = self.ok(
            "POST", "/v2/definitions/thing-types", {"displayName": "B", "metricIds": [mid]}
        )["id"]
        site = self.ok("POST", "/v2/sites", {"name": "S"})["id"]
        fleet = self.ok("POST", "/v2/fleets", {"name": "F"})["id"]
        self.site, self.fleet = site, fleet
        self.ids["thingId"] = self.ok(
            "POST", f"/v2/sites/{site}/things", {"thingName": "t", "thingTypeId": self.ids["thingTypeId"]}
        )["id"]
        self.metric_id = mid

    def ok(self, method: str, path: str, body: Any = None) -> Any:
        answer = self.p.call(method, path, body, key=self.key)
        assert answer.status in (200, 201), (path, answer)
        return answer.body

    def path(self, template: str) -> str:
        place = self.fleet if template.startswith("/v2/fleets/{") else self.site
        filled = template.replace("{placeId}", place)
        return re.sub(r"\{(\w+)\}", lambda m: self.ids[m.group(1)], filled)

    def body(self, method: str, template: str) -> Any:
        """A valid body, so that a refusal is about the key, not the payload."""
        if method != "POST":
            return None
        return {
            "/v2/definitions/metrics": {"name": "m2", "dataType": "Int", "defaultAggregation": "Last"},
            "/v2/definitions/thing-types": {"displayName": "X", "metricIds": [self.metric_id]},
            "/v2/definitions/thing-types/{thingTypeId}/versions": {"metricIds": [self.metric_id]},
            "/v2/sites": {"name": "S2"},
            "/v2/fleets": {"name": "F2"},
            "/v2/thing/{thingId}/data": {"frames": [{"timestamp": T0, "metrics": {"soc": 1}}]},
        }.get(template, [{"thingName": "b"}] if template.endswith("/bulk") else {"thingName": "n"})


@pytest.fixture(scope="module")
def acme(platform: Platform) -> Org:
    return Org(platform, "acme")


@pytest.fixture(scope="module")
def globex(platform: Platform) -> Org:
    return Org(platform, "globex")


def query_for(template: str) -> dict[str, str] | None:
    return {"interval": "1h"} if template.endswith("/aggregates") else None


def test_every_platform_route_of_the_template_is_in_the_matrix(platform: Platform) -> None:
    routes = {(r.method, r.path) for r in platform.template.api_routes() if r.authorizer}
    expected = set(ROUTES)
    missing = expected - routes
    assert not missing, f"routes expected but not in template.yaml: {missing}"


@pytest.mark.parametrize(("method", "template"), list(ROUTES))
def test_no_key_and_wrong_key_are_401_problems(platform: Platform, acme: Org, method: str, template: str) -> None:
    for key in (None, "avy_not-a-real-key", "Bearer something"):
        answer = platform.call(
            method, acme.path(template), acme.body(method, template), key=key, query=query_for(template)
        )
        assert answer.status == 401
        assert answer.header("Content-Type") == "application/problem+json"
        assert answer.body["type"] == "urn:telemetry:problem:unauthenticated"


@pytest.mark.parametrize(("method", "template"), list(ROUTES))
def test_key_without_the_scope_is_403(platform: Platform, acme: Org, method: str, template: str) -> None:
    from telemetry.models.auth import SCOPES

    everything_else = [s for s in SCOPES if s != ROUTES[(method, template)]]
    key = platform.key("acme", scopes=everything_else)
    answer = platform.call(method, acme.path(template), acme.body(method, template), key=key, query=query_for(template))
    assert answer.status == 403, answer
    assert answer.body["type"] == "urn:telemetry:problem:forbidden"
    assert ROUTES[(method, template)] in answer.body["detail"]


@pytest.mark.parametrize(("method", "template"), [r for r in ROUTES if "{" in r[1]])
def test_another_organizations_resource_is_404(
    platform: Platform, acme: Org, globex: Org, method: str, template: str
) -> None:
    answer = platform.call(
        method, acme.path(template), acme.body(method, template), key=globex.key, query=query_for(template)
    )
    assert answer.status == 404, answer
    assert answer.body["type"] == "urn:telemetry:problem:not-found"
    unknown = re.sub(r"(site|fleet|thing|mdef|tdefi)_[a-z0-9]+", r"\1_doesnotexist0000000", acme.path(template))
    same = platform.call(method, unknown, acme.body(method, template), key=acme.key, query=query_for(template))
    assert (same.status, same.body["type"]) == (404, answer.body["type"]), "foreign and missing must look alike"


@pytest.mark.parametrize("template", [t for m, t in ROUTES if m == "GET" and "{" not in t])
def test_lists_show_only_the_keys_organization(platform: Platform, acme: Org, globex: Org, template: str) -> None:
    mine = {i["id"] for i in platform.call("GET", template, key=acme.key).body["items"]}
    theirs = {i["id"] for i in platform.call("GET", template, key=globex.key).body["items"]}
    assert mine and theirs and not mine & theirs


def test_resource_filter_hides_everything_outside_it(platform: Platform, acme: Org) -> None:
    limited = platform.key("acme", places=[acme.fleet])
    assert platform.call("GET", f"/v2/sites/{acme.site}", key=limited).status == 404
    assert platform.call("GET", f"/v2/things/{acme.ids['thingId']}", key=limited).status == 404
    assert platform.call("GET", f"/v2/fleets/{acme.fleet}", key=limited).status == 200
    frames = {"frames": [{"timestamp": T0, "metrics": {"soc": 1}}]}
    assert platform.call("POST", f"/v2/thing/{acme.ids['thingId']}/data", frames, key=limited).status == 404


def test_malformed_json_and_oversized_body(platform: Platform, acme: Org) -> None:
    bad = platform.call("POST", "/v2/sites", b'{"name": ', key=acme.key)
    assert (bad.status, bad.body["type"]) == (400, "urn:telemetry:problem:malformed-request")
    huge = platform.call("POST", "/v2/sites", {"name": "x" * (1024 * 1024 + 10)}, key=acme.key)
    assert (huge.status, huge.body["type"]) == (413, "urn:telemetry:problem:payload-too-large")


def test_validation_errors_list_every_field(platform: Platform, acme: Org) -> None:
    answer = platform.call(
        "POST", "/v2/definitions/metrics", {"name": "1bad", "dataType": "Float", "x": 1}, key=acme.key
    )
    assert answer.status == 400 and answer.header("Content-Type") == "application/problem+json"
    paths = {e["path"] for e in answer.body["errors"]}
    assert {"name", "dataType", "defaultAggregation", "x"} <= paths


def test_duplicate_metric_name_is_409(platform: Platform, acme: Org) -> None:
    answer = platform.call(
        "POST",
        "/v2/definitions/metrics",
        {"name": "SOC", "dataType": "Double", "defaultAggregation": "Last"},
        key=acme.key,
    )
    assert (answer.status, answer.body["type"]) == (409, "urn:telemetry:problem:conflict")


def test_pagination_walks_every_item_once(platform: Platform) -> None:
    key = platform.key("paging")
    for i in range(7):
        assert platform.call("POST", "/v2/sites", {"name": f"s{i}"}, key=key).status == 201
    seen: list[str] = []
    token = None
    while True:
        query = {"pageLimit": "3", **({"continuationToken": token} if token else {})}
        page = platform.call("GET", "/v2/sites", key=key, query=query).body
        seen += [s["id"] for s in page["items"]]
        token = page.get("continuationToken")
        if not token:
            break
    assert len(seen) == len(set(seen)) == 7
    bad = platform.call("GET", "/v2/sites", key=key, query={"pageLimit": "0"})
    assert bad.status == 400 and bad.body["errors"][0]["path"].endswith("pageLimit")


@pytest.mark.parametrize(
    ("route", "query"),
    [("latest-event", {}), ("history", {}), ("aggregates", {"interval": "1h"})],
)
def test_a_thing_without_a_type_has_no_readings_to_query_424(
    platform: Platform, acme: Org, route: str, query: dict[str, str]
) -> None:
    """Its metrics come from its type's version: without one there is no storage to read (not a 404:
    the thing exists; not a 500)."""
    bare = acme.ok("POST", f"/v2/sites/{acme.site}/things", {"thingName": f"bare-{route}"})["id"]
    answer = platform.call("GET", f"/v2/things/{bare}/{route}", key=acme.key, query=query)
    assert (answer.status, answer.body["type"]) == (424, "urn:telemetry:problem:failed-dependency")
    assert "no thing type" in answer.body["detail"]


def test_thing_without_a_type_cannot_take_frames_424(platform: Platform, acme: Org) -> None:
    bare = acme.ok("POST", f"/v2/sites/{acme.site}/things", {"thingName": "bare"})["id"]
    answer = platform.call(
        "POST", f"/v2/thing/{bare}/data", {"frames": [{"timestamp": T0, "metrics": {"soc": 1}}]}, key=acme.key
    )
    assert (answer.status, answer.body["type"]) == (424, "urn:telemetry:problem:failed-dependency")
