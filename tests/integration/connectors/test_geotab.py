"""The Geotab connector against the fake MyGeotab server."""

from __future__ import annotations

from typing import Any

import pytest
from devstack.fakes import GeotabFake
from devstack.fakes.base import iso
from devstack.fakes.geotab import ODOMETER, SOC
from telemetry.adapters.egress import EgressPolicy
from telemetry.ports.integrations import (
    EgressRefused,
    ProviderAuthFailed,
    ProviderThrottled,
    ProviderUnavailable,
)

from .conftest import DEPLOYED, HOUR, T0, connector, pull, pull_to_end

CREDS: dict[str, Any] = {"userName": "ops@example.com", "password": "s3cret"}


def conn(fake: GeotabFake, **extra: Any) -> dict[str, Any]:
    return {"server": fake.url, "database": "demo", "feeds": ["StatusData", "LogRecord"], "resultsLimit": 100, **extra}


def ids(pages: list[Any], record_type: str | None = None) -> list[str]:
    return [r.data["id"] for p in pages for r in p.records if record_type in (None, r.record_type)]


def test_pages_every_feed_to_the_end_one_getfeed_per_step(geotab: GeotabFake) -> None:
    # Given 3 devices x 60 minutes: 360 StatusData and 180 LogRecord
    geotab.seed(T0, minutes=60)
    # When the steps run until no more data waits
    pages, cursor, _ = pull_to_end(connector("geotab"), conn(geotab), CREDS)
    # Then every record arrived once, in version order, with its feed as record type
    assert ids(pages, "StatusData") == [r["id"] for r in geotab.feeds["StatusData"]]
    assert ids(pages, "LogRecord") == [r["id"] for r in geotab.feeds["LogRecord"]]
    assert len(ids(pages)) == len(set(ids(pages))) == 540
    # 4 full StatusData pages + the rest, 2 full LogRecord pages + the rest; one call each (+ one Authenticate)
    assert [len(p.records) for p in pages] == [100, 100, 100, 60, 100, 80]
    assert len(geotab.calls_to("GetFeed")) == 6 and len(geotab.calls_to("Authenticate")) == 1
    assert [p.calls for p in pages] == [2, 1, 1, 1, 1, 1]
    assert cursor == {
        "feeds": {
            "StatusData": geotab.feeds["StatusData"][-1]["version"],
            "LogRecord": geotab.feeds["LogRecord"][-1]["version"],
        },
        "next": "StatusData",
    }
    soc = next(r for p in pages for r in p.records if r.data["diagnostic"]["id"] == SOC)
    assert soc.data["device"] == {"id": "b1"} and soc.data["dateTime"] == iso(T0)
    assert any(r.data.get("diagnostic", {}).get("id") == ODOMETER for p in pages for r in p.records)


def test_the_first_run_starts_at_start_ms_then_at_the_version(geotab: GeotabFake) -> None:
    geotab.seed(T0, minutes=10, devices=["b1"])
    pages, _, _ = pull_to_end(connector("geotab"), conn(geotab, feeds=["LogRecord"]), CREDS, start_ms=T0 + 5 * 60_000)
    assert [r.data["dateTime"] for p in pages for r in p.records] == [iso(T0 + i * 60_000) for i in range(5, 10)]
    first = geotab.calls_to("GetFeed")[0]
    assert (
        first.body["params"]["search"] == {"fromDate": iso(T0 + 5 * 60_000)}
        and "fromVersion" not in first.body["params"]
    )


def test_the_cursor_continues_across_two_pulls_without_gaps_or_duplicates(geotab: GeotabFake) -> None:
    c = connector("geotab")
    geotab.seed(T0, minutes=20)
    first, cursor, creds = pull_to_end(c, conn(geotab), CREDS)
    # new data arrives between the runs
    geotab.seed(T0 + HOUR, minutes=20)
    second, _, _ = pull_to_end(c, conn(geotab), creds, cursor)
    everything = [r["id"] for feed in ("StatusData", "LogRecord") for r in geotab.feeds[feed]]
    got = ids(first) + ids(second)
    assert sorted(got) == sorted(everything) and len(got) == len(set(got))
    assert ids(second, "LogRecord") == [r["id"] for r in geotab.feeds["LogRecord"][60:]]
    # the second run reused the session written back by the first: no new Authenticate
    assert len(geotab.calls_to("Authenticate")) == 1


def test_an_empty_feed_keeps_its_version_and_ends_the_round(geotab: GeotabFake) -> None:
    geotab.seed(T0, minutes=2, devices=["b1"])
    c = connector("geotab")
    _, cursor, creds = pull_to_end(c, conn(geotab), CREDS)
    page = pull(c, conn(geotab), creds, cursor)
    assert page.records == [] and page.more is True  # LogRecord's turn is still to come
    page = pull(c, conn(geotab), creds, page.cursor)
    assert page.records == [] and page.more is False and page.cursor == cursor


@pytest.mark.parametrize("shape", ["both", "data", "errors"])
@pytest.mark.parametrize("http_status", [200, 429])
def test_overlimit_is_throttled_with_retry_after(geotab: GeotabFake, shape: str, http_status: int) -> None:
    geotab.seed(T0, minutes=1)
    geotab.error_shape, geotab.error_status = shape, http_status
    c = connector("geotab")
    first = pull(c, conn(geotab), CREDS)
    geotab.reset_calls()
    geotab.throttle_next(58)
    with pytest.raises(ProviderThrottled) as throttled:
        pull(c, conn(geotab), dict(first.credentials or {}), first.cursor)
    assert throttled.value.retry_after_s == 58
    assert "OverLimitException" in throttled.value.message
    assert len(geotab.calls) == 1  # no retry of its own: the service waits until Retry-After


@pytest.mark.parametrize("shape", ["data", "errors"])
def test_an_expired_session_re_authenticates_once_then_succeeds(geotab: GeotabFake, shape: str) -> None:
    geotab.seed(T0, minutes=1)
    geotab.error_shape = shape
    c = connector("geotab")
    first = pull(c, conn(geotab), CREDS)
    creds = dict(first.credentials or {})
    geotab.expire_session()
    geotab.reset_calls()
    page = pull(c, conn(geotab), creds, first.cursor)
    assert [call.body["method"] for call in geotab.calls] == ["GetFeed", "Authenticate", "GetFeed"]
    assert page.calls == 3 and len(page.records) == 3  # LogRecord's turn
    assert page.credentials is not None and page.credentials["sessionId"] != creds["sessionId"]
    assert page.credentials["password"] == "s3cret" and page.credentials["path"] == "ThisServer"


def test_bad_credentials_fail_after_one_authenticate(geotab: GeotabFake) -> None:
    with pytest.raises(ProviderAuthFailed, match="refused user"):
        pull(connector("geotab"), conn(geotab), {**CREDS, "password": "wrong"})
    assert [call.body["method"] for call in geotab.calls] == ["Authenticate"]
    assert "wrong" not in str(geotab.calls[0].body["params"].get("credentials"))


def test_an_expired_session_with_a_changed_password_fails_without_a_loop(geotab: GeotabFake) -> None:
    c = connector("geotab")
    first = pull(c, conn(geotab), CREDS)
    geotab.expire_session()
    geotab.users[("demo", "ops@example.com")] = "rotated"
    geotab.reset_calls()
    with pytest.raises(ProviderAuthFailed):
        pull(c, conn(geotab), dict(first.credentials or {}), first.cursor)
    assert [call.body["method"] for call in geotab.calls] == ["GetFeed", "Authenticate"]


def test_a_session_refused_right_after_authenticating_is_auth_failed(geotab: GeotabFake) -> None:
    # the first call is Authenticate (no cached session): refused, and not retried
    geotab.fail_next("InvalidUserException", times=1)
    with pytest.raises(ProviderAuthFailed):
        pull(connector("geotab"), conn(geotab), CREDS)
    assert len(geotab.calls) == 1


@pytest.mark.parametrize("fault", [500, 503, "DbUnavailableException"])
def test_server_errors_are_unavailable(geotab: GeotabFake, fault: int | str) -> None:
    geotab.fail_next(fault)
    with pytest.raises(ProviderUnavailable):
        pull(connector("geotab"), conn(geotab), CREDS)


def test_a_timeout_is_unavailable(geotab: GeotabFake) -> None:
    geotab.delay_next(1.0)
    with pytest.raises(ProviderUnavailable, match="timed out"):
        pull(connector("geotab", EgressPolicy(allow_loopback=True, timeout_s=0.2)), conn(geotab), CREDS)


def test_a_response_over_the_cap_is_refused(geotab: GeotabFake) -> None:
    c = connector("geotab", EgressPolicy(allow_loopback=True, max_response_bytes=50_000))
    geotab.oversize_next(80_000)
    with pytest.raises(ProviderUnavailable, match="response cap"):
        pull(c, conn(geotab), CREDS)


def test_the_server_redirect_path_is_used_and_written_back(geotab: GeotabFake, geotab_home: GeotabFake) -> None:
    # Given geotab answers Authenticate with path = the second server
    geotab.seed(T0, minutes=1)
    c = connector("geotab")
    page = pull(c, conn(geotab), CREDS)
    # Then GetFeed went to the second server, and the path is written back
    assert [call.body["method"] for call in geotab.calls] == ["Authenticate"]
    assert [call.body["method"] for call in geotab_home.calls] == ["GetFeed"]
    assert page.credentials is not None and page.credentials["path"] == geotab_home.hostport
    assert len(page.records) == 6  # StatusData: 3 devices x (state of charge, odometer)
    # And the next step goes straight there with the cached session
    pull(c, conn(geotab), dict(page.credentials), page.cursor)
    assert len(geotab.calls) == 1 and len(geotab_home.calls) == 2


def test_a_redirect_to_a_metadata_address_is_refused(geotab: GeotabFake) -> None:
    geotab.redirect_path = "169.254.169.254"
    with pytest.raises(EgressRefused, match="instance-metadata"):
        pull(connector("geotab"), conn(geotab), CREDS)


def test_a_redirect_path_that_is_not_a_server_name_is_refused(geotab: GeotabFake) -> None:
    geotab.redirect_path = "evil.example/steal?x="
    with pytest.raises(EgressRefused, match="not a server name"):
        pull(connector("geotab"), conn(geotab), CREDS)


def test_a_deployed_stack_refuses_a_loopback_server_before_any_call(geotab: GeotabFake) -> None:
    with pytest.raises(EgressRefused, match="loopback"):
        pull(connector("geotab", DEPLOYED), conn(geotab), CREDS)
    assert geotab.calls == []


def test_missing_settings_need_attention(geotab: GeotabFake) -> None:
    with pytest.raises(ProviderAuthFailed, match=r"connection\.database"):
        pull(connector("geotab"), {"server": geotab.url}, CREDS)
    with pytest.raises(ProviderAuthFailed, match="resultsLimit"):
        pull(connector("geotab"), conn(geotab, resultsLimit=60_000), CREDS)
