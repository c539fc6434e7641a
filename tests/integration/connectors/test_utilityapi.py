"""The UtilityAPI connector against the fake UtilityAPI v2."""

from __future__ import annotations

from typing import Any

import pytest
from devstack.fakes import UtilityApiFake
from telemetry.adapters.egress import EgressPolicy
from telemetry.ports.integrations import EgressRefused, ProviderAuthFailed, ProviderThrottled, ProviderUnavailable

from .conftest import DEPLOYED, HOUR, T0, connector, pull, pull_to_end

TOKEN: dict[str, Any] = {"apiToken": "uapi-test-token"}
METERS = ("101", "102")


def conn(fake: UtilityApiFake, **extra: Any) -> dict[str, Any]:
    return {"baseUrl": fake.url, "limit": 1, **extra}


def starts(pages: list[Any], meter: str | None = None) -> list[str]:
    return [r.data["start"] for p in pages for r in p.records if meter in (None, r.data["meter_uid"])]


def test_follows_next_to_the_end_for_every_meter(utilityapi: UtilityApiFake) -> None:
    # Given 6 hours of 15-minute readings per meter (24 readings = 3 Interval objects of 8)
    utilityapi.seed(T0, hours=6)
    pages, cursor, _ = pull_to_end(connector("utilityapi"), conn(utilityapi), TOKEN, external_ids=METERS)
    # Then one IntervalReading per reading, every one once, meter uid copied in
    for meter in METERS:
        assert starts(pages, meter) == [r["start"] for r in utilityapi.readings[meter]]
    record = pages[0].records[0]
    assert record.record_type == "IntervalReading"
    assert record.data["meter_uid"] == "101" and record.data["kwh"] == 0.25
    assert record.data["datapoints"] == [{"type": "net", "unit": "kwh", "value": 0.25}]
    assert [len(p.records) for p in pages] == [8, 8, 8, 8, 8, 8]
    # pages 2 and 3 of a meter came from the absolute next URL
    assert [c.params.get("offset") for c in utilityapi.calls] == [None, "1", "2", None, "1", "2"]
    assert cursor is not None and cursor["meters"]["101"] == {
        "start": utilityapi.readings["101"][-1]["end"],
        "next": None,
    }


def test_the_cursor_continues_across_two_pulls_without_gaps_or_duplicates(utilityapi: UtilityApiFake) -> None:
    c = connector("utilityapi")
    utilityapi.seed(T0, hours=2)
    first, cursor, _ = pull_to_end(c, conn(utilityapi), TOKEN, external_ids=METERS)
    utilityapi.seed(T0 + 2 * HOUR, hours=2)
    second, _, _ = pull_to_end(c, conn(utilityapi), TOKEN, cursor, external_ids=METERS)
    for meter in METERS:
        got = starts(first, meter) + starts(second, meter)
        assert got == [r["start"] for r in utilityapi.readings[meter]]
    assert len(starts(second)) == 2 * 8


def test_a_new_meter_starts_at_start_ms(utilityapi: UtilityApiFake) -> None:
    utilityapi.seed(T0, hours=2)
    pages, _, _ = pull_to_end(
        connector("utilityapi"), conn(utilityapi, limit=10), TOKEN, external_ids=("102",), start_ms=T0 + HOUR
    )
    assert len(starts(pages)) == 4 and utilityapi.calls[0].params["meters"] == "102"


def test_429_is_throttled_with_retry_after(utilityapi: UtilityApiFake) -> None:
    utilityapi.throttle_next(120)
    with pytest.raises(ProviderThrottled) as throttled:
        pull(connector("utilityapi"), conn(utilityapi), TOKEN, external_ids=METERS)
    assert throttled.value.retry_after_s == 120 and len(utilityapi.calls) == 1


def test_401_is_auth_failed_after_one_call(utilityapi: UtilityApiFake) -> None:
    with pytest.raises(ProviderAuthFailed, match="401"):
        pull(connector("utilityapi"), conn(utilityapi), {"apiToken": "wrong"}, external_ids=METERS)
    assert len(utilityapi.calls) == 1


@pytest.mark.parametrize("status", [500, 503, 504])
def test_5xx_is_unavailable(utilityapi: UtilityApiFake, status: int) -> None:
    utilityapi.fail_next(status)
    with pytest.raises(ProviderUnavailable, match=str(status)):
        pull(connector("utilityapi"), conn(utilityapi), TOKEN, external_ids=METERS)


def test_a_timeout_and_an_oversized_answer_are_unavailable(utilityapi: UtilityApiFake) -> None:
    utilityapi.delay_next(1.0)
    with pytest.raises(ProviderUnavailable, match="timed out"):
        pull(
            connector("utilityapi", EgressPolicy(allow_loopback=True, timeout_s=0.2)),
            conn(utilityapi),
            TOKEN,
            external_ids=METERS,
        )
    utilityapi.oversize_next(70_000)
    with pytest.raises(ProviderUnavailable, match="cap"):
        pull(
            connector("utilityapi", EgressPolicy(allow_loopback=True, max_response_bytes=60_000)),
            conn(utilityapi),
            TOKEN,
            external_ids=METERS,
        )


def test_a_next_url_off_the_api_origin_is_refused(utilityapi: UtilityApiFake) -> None:
    cursor = {
        "meters": {"101": {"start": "2023-11-14T22:00:00Z", "next": "http://attacker.example/collect"}},
        "turn": "101",
    }
    with pytest.raises(EgressRefused, match="carry the token"):
        pull(connector("utilityapi"), conn(utilityapi), TOKEN, cursor, external_ids=METERS)
    assert utilityapi.calls == []


def test_no_meters_need_attention(utilityapi: UtilityApiFake) -> None:
    with pytest.raises(ProviderAuthFailed, match="meter uids"):
        pull(connector("utilityapi"), conn(utilityapi), TOKEN)


def test_a_deployed_stack_refuses_a_loopback_base_url(utilityapi: UtilityApiFake) -> None:
    with pytest.raises(EgressRefused):
        pull(connector("utilityapi", DEPLOYED), conn(utilityapi), TOKEN, external_ids=METERS)
    assert utilityapi.calls == []
