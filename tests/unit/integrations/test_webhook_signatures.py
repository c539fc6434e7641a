"""Webhook signature verifiers (telemetry/services/integrations/signatures.py): good, bad, missing, replayed.

The expected signatures are computed here from each provider's rule, independently of the code
under test; the fakes' signing helpers are checked against the same vectors.
"""

from __future__ import annotations

import base64
import hashlib
import hmac

import orjson
import pytest
from devstack.fakes import HttpFeedFake, UtilityApiFake, ZubieFake
from telemetry.services.integrations.signatures import MAX_AGE_S, replay_token, verify_webhook

SECRET = "whsec-test"
NOW = 1_700_000_000.0  # 2023-11-14T22:13:20Z
UAPI_BODY = orjson.dumps(
    {
        "events": [
            {
                "uid": "e1",
                "type": "meter_interval_data_updated",
                "ts": "2023-11-14T22:12:00.000000+00:00",
                "meter_uid": "101",
            }
        ],
        "next": None,
    }
)
ZUBIE_BODY = orjson.dumps({"event": "trip_end", "trip": {"key": "trip1"}, "vehicle": {"key": "veh1"}})


def zubie_headers(body: bytes, secret: str = SECRET) -> dict[str, str]:
    return {"Zubie-Signature": base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest()).decode()}


def uapi_headers(body: bytes, salt: str = "c0ffee", secret: str = SECRET) -> dict[str, str]:
    digest = hashlib.sha256(secret.encode() + salt.encode() + body).hexdigest()
    return {"X-UtilityAPI-Webhook-Salt": salt, "X-UtilityAPI-Webhook-Signature": digest}


def http_headers(body: bytes, ts: int = int(NOW), secret: str = SECRET) -> dict[str, str]:
    digest = hmac.new(secret.encode(), f"{ts}.".encode() + body, hashlib.sha256).hexdigest()
    return {"X-Webhook-Timestamp": str(ts), "X-Webhook-Signature": digest}


CASES = [
    ("zubie", ZUBIE_BODY, zubie_headers),
    ("utilityapi", UAPI_BODY, uapi_headers),
    ("http", ZUBIE_BODY, http_headers),
]


@pytest.mark.parametrize(("provider", "body", "sign"), CASES)
def test_a_good_signature_passes(provider: str, body: bytes, sign: object) -> None:
    assert verify_webhook(provider, SECRET, sign(body), body, NOW)  # type: ignore[operator]


@pytest.mark.parametrize(("provider", "body", "sign"), CASES)
def test_header_names_are_case_insensitive(provider: str, body: bytes, sign: object) -> None:
    headers = {k.lower(): v for k, v in sign(body).items()}  # type: ignore[operator]
    assert verify_webhook(provider, SECRET, headers, body, NOW)


@pytest.mark.parametrize(("provider", "body", "sign"), CASES)
def test_another_secret_a_changed_body_or_no_secret_fail(provider: str, body: bytes, sign: object) -> None:
    headers = sign(body)  # type: ignore[operator]
    assert not verify_webhook(provider, "other-secret", headers, body, NOW)
    assert not verify_webhook(provider, SECRET, headers, body.replace(b"1", b"2"), NOW)
    assert not verify_webhook(provider, "", headers, body, NOW)


@pytest.mark.parametrize(("provider", "body", "sign"), CASES)
def test_missing_or_repeated_headers_fail(provider: str, body: bytes, sign: object) -> None:
    headers = sign(body)  # type: ignore[operator]
    assert not verify_webhook(provider, SECRET, {}, body, NOW)
    for name in headers:
        assert not verify_webhook(provider, SECRET, {k: v for k, v in headers.items() if k != name}, body, NOW)
    doubled = {**headers, **{k.upper(): v for k, v in headers.items()}}
    assert not verify_webhook(provider, SECRET, doubled, body, NOW)


def test_a_malformed_zubie_signature_fails() -> None:
    assert not verify_webhook("zubie", SECRET, {"Zubie-Signature": "not base64 !"}, ZUBIE_BODY, NOW)
    hexed = hmac.new(SECRET.encode(), ZUBIE_BODY, hashlib.sha256).hexdigest()  # right MAC, wrong encoding
    assert not verify_webhook("zubie", SECRET, {"Zubie-Signature": hexed}, ZUBIE_BODY, NOW)


def test_a_replayed_http_delivery_older_than_five_minutes_fails() -> None:
    old = http_headers(ZUBIE_BODY, ts=int(NOW) - MAX_AGE_S - 1)
    assert not verify_webhook("http", SECRET, old, ZUBIE_BODY, NOW)
    assert verify_webhook("http", SECRET, http_headers(ZUBIE_BODY, ts=int(NOW) - MAX_AGE_S), ZUBIE_BODY, NOW)
    future = http_headers(ZUBIE_BODY, ts=int(NOW) + MAX_AGE_S + 1)
    assert not verify_webhook("http", SECRET, future, ZUBIE_BODY, NOW)


def test_a_replayed_utilityapi_delivery_fails_by_its_event_time() -> None:
    # the same signed delivery, received 10 minutes after its newest event
    assert not verify_webhook("utilityapi", SECRET, uapi_headers(UAPI_BODY), UAPI_BODY, NOW + 600)
    undated = orjson.dumps({"events": [{"uid": "e1", "type": "x"}], "next": None})
    assert not verify_webhook("utilityapi", SECRET, uapi_headers(undated), undated, NOW)


def test_a_zubie_body_timestamp_is_held_to_the_window() -> None:
    stale = orjson.dumps({"event": "trip_end", "timestamp": "2023-11-14T22:00:00+00:00"})
    assert not verify_webhook("zubie", SECRET, zubie_headers(stale), stale, NOW)
    fresh = orjson.dumps({"event": "trip_end", "timestamp": "2023-11-14T22:12:00+00:00"})
    assert verify_webhook("zubie", SECRET, zubie_headers(fresh), fresh, NOW)


def test_replay_tokens_identify_one_delivery() -> None:
    assert replay_token("utilityapi", uapi_headers(UAPI_BODY, salt="s1")) == "utilityapi:s1"
    assert replay_token("zubie", zubie_headers(ZUBIE_BODY)) == "zubie:" + zubie_headers(ZUBIE_BODY)["Zubie-Signature"]
    assert replay_token("zubie", {}) is None and replay_token("geotab", {"x": "y"}) is None


def test_geotab_and_unknown_providers_never_verify() -> None:
    assert not verify_webhook("geotab", SECRET, zubie_headers(ZUBIE_BODY), ZUBIE_BODY, NOW)
    assert not verify_webhook("acme", SECRET, zubie_headers(ZUBIE_BODY), ZUBIE_BODY, NOW)


def test_the_fakes_sign_by_the_same_rules() -> None:
    assert {
        k: v for k, v in ZubieFake.sign_webhook(SECRET, ZUBIE_BODY).items() if k != "Content-Type"
    } == zubie_headers(ZUBIE_BODY)
    signed = UtilityApiFake.sign_webhook(SECRET, UAPI_BODY, salt="c0ffee")
    assert {k: v for k, v in signed.items() if k != "Content-Type"} == uapi_headers(UAPI_BODY)
    signed = HttpFeedFake.sign_webhook(SECRET, ZUBIE_BODY, timestamp=int(NOW))
    assert {k: v for k, v in signed.items() if k != "Content-Type"} == http_headers(ZUBIE_BODY)


def test_a_signed_body_that_is_not_json() -> None:
    body = b"not json"
    # Zubie: signed, nothing to date it by; UtilityAPI: no event time, so no freshness: refused
    assert verify_webhook("zubie", SECRET, zubie_headers(body), body, NOW)
    assert not verify_webhook("utilityapi", SECRET, uapi_headers(body), body, NOW)
