"""The Zubie connector against the fake ZinC v2 API."""

from __future__ import annotations

import itertools
from typing import Any

import pytest
from devstack.fakes import ZubieFake
from devstack.fakes.zubie import PREFIX
from telemetry.adapters.egress import EgressPolicy
from telemetry.ports.integrations import EgressRefused, ProviderAuthFailed, ProviderThrottled, ProviderUnavailable

from .conftest import DEPLOYED, HOUR, T0, connector, pull, pull_to_end

KEY: dict[str, Any] = {"apiKey": "zubie-test-key"}


def conn(fake: ZubieFake, **extra: Any) -> dict[str, Any]:
    return {"baseUrl": fake.url + PREFIX, "size": 5, **extra}


def point_keys(pages: list[Any]) -> list[str]:
    return [r.data["key"] for p in pages for r in p.records]


def all_points(fake: ZubieFake, vehicles: set[str] | None = None) -> list[str]:
    return [
        p["key"]
        for e in fake.events
        if vehicles is None or e["vehicle"]["key"] in vehicles
        for p in fake.points[e["trip"]["key"]]
    ]


def test_pages_events_and_trip_points_to_the_end(zubie: ZubieFake) -> None:
    # Given 2 vans x 3 trips of 12 points (a trip every 30 min)
    zubie.seed(T0, trips_per_vehicle=3, points_per_trip=12)
    pages, cursor, _ = pull_to_end(connector("zubie"), conn(zubie), KEY, now_ms=T0 + 3 * HOUR)
    # Then every point of every trip came once, as TripPoint records naming their vehicle and trip
    assert point_keys(pages) == all_points(zubie)
    record = pages[0].records[0]
    assert record.record_type == "TripPoint"
    assert record.data["vehicle_key"] == "veh1" and record.data["trip_key"] == "trip00001"
    assert set(record.data) >= {"timestamp", "point", "speed", "heading"}
    # 6 events in pages of 5; each trip's 12 points in pages of 5 (3 calls)
    assert [len(p.records) for p in pages] == [60, 12]
    assert [p.calls for p in pages] == [1 + 5 * 3, 1 + 3]
    # the window closed: after := before = now - settle
    assert cursor is not None and cursor["cursor"] is None and cursor["after"] == "2023-11-15T00:55:00.000Z"


def test_only_mapped_vehicles_have_their_points_fetched(zubie: ZubieFake) -> None:
    zubie.seed(T0, trips_per_vehicle=2, points_per_trip=4)
    pages, _, _ = pull_to_end(connector("zubie"), conn(zubie), KEY, external_ids=("veh2",), now_ms=T0 + 3 * HOUR)
    assert point_keys(pages) == all_points(zubie, {"veh2"})
    fetched = {c.path.split("/")[-2] for c in zubie.calls if c.path.endswith("/points")}
    assert fetched == {e["trip"]["key"] for e in zubie.events if e["vehicle"]["key"] == "veh2"}


def test_windows_are_contiguous_across_pulls(zubie: ZubieFake) -> None:
    # Given trips over 3 hours and 1-hour windows
    zubie.seed(T0, trips_per_vehicle=6, points_per_trip=3)
    c = connector("zubie")
    settings = conn(zubie, windowHours=1)
    first, cursor, _ = pull_to_end(c, settings, KEY, now_ms=T0 + 2 * HOUR)
    # new trips arrive, and time moves on
    zubie.add_trip("veh1", T0 + 3 * HOUR + 5 * 60_000, 3)
    second, _, _ = pull_to_end(c, settings, KEY, cursor, now_ms=T0 + 5 * HOUR)
    got = point_keys(first) + point_keys(second)
    assert got == all_points(zubie) and len(got) == len(set(got))
    windows = [(c.params["after"], c.params["before"]) for c in zubie.calls if c.path.endswith("/events")]
    assert all(a[1] == b[0] for a, b in itertools.pairwise(windows) if a != b)
    assert windows[0][0] == "2023-11-14T22:00:00.000Z"


def test_a_bearer_token_works_and_an_expired_one_is_auth_failed(zubie: ZubieFake) -> None:
    zubie.seed(T0, trips_per_vehicle=1, points_per_trip=2)
    bearer = {"accessToken": "zubie-test-token"}
    page = pull(connector("zubie"), conn(zubie), bearer, now_ms=T0 + HOUR)
    assert len(page.records) == 4 and zubie.calls[0].headers["authorization"] == "Bearer zubie-test-token"
    zubie.expire_session()
    zubie.reset_calls()
    with pytest.raises(ProviderAuthFailed, match="401"):
        pull(connector("zubie"), conn(zubie), bearer, now_ms=T0 + HOUR)
    assert len(zubie.calls) == 1


def test_a_bad_api_key_is_auth_failed_after_one_call(zubie: ZubieFake) -> None:
    with pytest.raises(ProviderAuthFailed):
        pull(connector("zubie"), conn(zubie), {"apiKey": "nope"})
    assert len(zubie.calls) == 1


def test_no_credentials_need_attention(zubie: ZubieFake) -> None:
    with pytest.raises(ProviderAuthFailed, match="apiKey"):
        pull(connector("zubie"), conn(zubie), {})
    assert zubie.calls == []


def test_429_is_throttled_with_retry_after(zubie: ZubieFake) -> None:
    zubie.throttle_next(30)
    with pytest.raises(ProviderThrottled) as throttled:
        pull(connector("zubie"), conn(zubie), KEY)
    assert throttled.value.retry_after_s == 30 and len(zubie.calls) == 1


def test_a_throttle_mid_step_keeps_the_cursor(zubie: ZubieFake) -> None:
    # the events page succeeded, a points call is throttled: the whole step fails, nothing half-moved
    zubie.seed(T0, trips_per_vehicle=1, points_per_trip=2)
    c = connector("zubie")
    original = zubie.route

    def throttle_points(call: Any) -> Any:
        if call.path.endswith("/points"):
            return zubie.throttled(12, call)
        return original(call)

    zubie.route = throttle_points  # type: ignore[method-assign]
    with pytest.raises(ProviderThrottled) as throttled:
        pull(c, conn(zubie), KEY, now_ms=T0 + HOUR)
    assert throttled.value.retry_after_s == 12
    assert [c.path.rsplit("/", 1)[-1] for c in zubie.calls] == ["events", "points"]


@pytest.mark.parametrize("status", [500, 502, 503])
def test_5xx_is_unavailable(zubie: ZubieFake, status: int) -> None:
    zubie.fail_next(status)
    with pytest.raises(ProviderUnavailable, match=str(status)):
        pull(connector("zubie"), conn(zubie), KEY)


def test_a_400_is_unavailable_not_a_crash(zubie: ZubieFake) -> None:
    zubie.fail_next(400)
    with pytest.raises(ProviderUnavailable, match="400"):
        pull(connector("zubie"), conn(zubie), KEY)


def test_a_timeout_and_an_oversized_answer_are_unavailable(zubie: ZubieFake) -> None:
    zubie.delay_next(1.0)
    with pytest.raises(ProviderUnavailable, match="timed out"):
        pull(connector("zubie", EgressPolicy(allow_loopback=True, timeout_s=0.2)), conn(zubie), KEY)
    zubie.oversize_next(70_000)
    with pytest.raises(ProviderUnavailable, match="cap"):
        pull(connector("zubie", EgressPolicy(allow_loopback=True, max_response_bytes=60_000)), conn(zubie), KEY)


def test_a_deployed_stack_refuses_a_loopback_base_url(zubie: ZubieFake) -> None:
    with pytest.raises(EgressRefused):
        pull(connector("zubie", DEPLOYED), conn(zubie), KEY)
    assert zubie.calls == []


OAUTH: dict[str, Any] = {
    "accessToken": "zubie-test-token",
    "refreshToken": "zubie-test-refresh",
    "clientId": "zubie-test-client",
    "clientSecret": "zubie-test-client-secret",
}


def oauth_conn(fake: ZubieFake) -> dict[str, Any]:
    return conn(fake, tokenUrl=fake.url + "/oauth/token")


def test_an_expired_oauth_token_is_refreshed_in_a_step_of_its_own_then_the_pull_goes_on(zubie: ZubieFake) -> None:
    # Given an OAuth integration whose access token has expired (Zubie's tokens last 24 hours)
    zubie.seed(T0, trips_per_vehicle=1, points_per_trip=2)
    zubie.expire_session()
    # When the pull runs to the end, as the pull service runs it (credentials written back between steps)
    pages, _, credentials = pull_to_end(connector("zubie"), oauth_conn(zubie), dict(OAUTH), now_ms=T0 + HOUR)
    # Then the first step was the refresh alone: no records, the cursor unmoved, more to do, new tokens
    refresh = pages[0]
    assert refresh.records == [] and refresh.more and refresh.cursor == {} and refresh.calls == 1
    token_call = zubie.calls_to("/oauth/token")[0]
    assert token_call.headers["content-type"] == "application/x-www-form-urlencoded"
    assert token_call.body == {
        "grant_type": "refresh_token",
        "client_id": "zubie-test-client",
        "client_secret": "zubie-test-client-secret",
        "refresh_token": "zubie-test-refresh",
    }
    # and the next step read the trips with the new token, keeping the rotated refresh token
    assert point_keys(pages[1:]) == all_points(zubie)
    assert credentials["accessToken"] in zubie.tokens and credentials["refreshToken"] in zubie.refresh_tokens
    assert credentials["refreshToken"] != OAUTH["refreshToken"]
    assert credentials["expiresAt"] == T0 + HOUR + 86_400_000 and credentials["clientSecret"] == OAUTH["clientSecret"]
    assert zubie.calls[-1].headers["authorization"] == f"Bearer {credentials['accessToken']}"


def test_a_token_about_to_expire_is_refreshed_before_any_api_call(zubie: ZubieFake) -> None:
    zubie.seed(T0, trips_per_vehicle=1, points_per_trip=2)
    now = T0 + HOUR
    page = pull(connector("zubie"), oauth_conn(zubie), {**OAUTH, "expiresAt": now + 60_000}, now_ms=now)
    assert page.records == [] and page.credentials is not None
    assert [c.path for c in zubie.calls] == ["/oauth/token"]


def test_a_refused_refresh_token_needs_attention(zubie: ZubieFake) -> None:
    zubie.expire_session()
    zubie.refresh_tokens.clear()  # revoked, or rotated by another client
    with pytest.raises(ProviderAuthFailed, match="authorize the app again"):
        pull(connector("zubie"), oauth_conn(zubie), dict(OAUTH))


def test_a_401_right_after_a_refresh_is_auth_failed_not_a_refresh_loop(zubie: ZubieFake) -> None:
    zubie.expire_session()
    now = T0 + HOUR
    just_refreshed = {**OAUTH, "refreshedAtMs": now - 10_000}
    with pytest.raises(ProviderAuthFailed, match="401"):
        pull(connector("zubie"), oauth_conn(zubie), just_refreshed, now_ms=now)
    assert zubie.calls_to("/oauth/token") == []
