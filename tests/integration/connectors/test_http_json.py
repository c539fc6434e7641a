"""The generic http connector against the example feed."""

from __future__ import annotations

from typing import Any

import pytest
from devstack.fakes import HttpFeedFake
from telemetry.adapters.connectors import connector_for
from telemetry.adapters.egress import EgressPolicy
from telemetry.ports.integrations import EgressRefused, ProviderAuthFailed, ProviderThrottled, ProviderUnavailable

from .conftest import DEPLOYED, LOCAL, T0, connector, pull, pull_to_end

CREDS: dict[str, Any] = {"headers": {"X-Feed-Token": "feed-test-token"}}


def conn(fake: HttpFeedFake, **extra: Any) -> dict[str, Any]:
    return {
        "url": fake.url + "/feed",
        "cursorParam": "cursor",
        "nextCursorPointer": "/next",
        "recordsPointer": "/data/items",
        "recordType": "FeedReading",
        "params": {"limit": "10"},
        **extra,
    }


def item_ids(pages: list[Any]) -> list[int]:
    return [r.data["id"] for p in pages for r in p.records]


def test_pages_to_the_end_following_the_cursor(feed: HttpFeedFake) -> None:
    feed.seed(T0, count=25)  # 50 items
    pages, cursor, _ = pull_to_end(connector("http"), conn(feed), CREDS)
    assert item_ids(pages) == list(range(1, 51))
    assert pages[0].records[0].record_type == "FeedReading" and pages[0].records[0].data["sensor"] == "s-1"
    assert [c.params.get("cursor") for c in feed.calls] == [None, "10", "20", "30", "40", "50"]
    assert all(c.headers["x-feed-token"] == "feed-test-token" and c.params["limit"] == "10" for c in feed.calls)
    assert cursor == {"cursor": "50"}


def test_the_cursor_continues_across_two_pulls_without_gaps_or_duplicates(feed: HttpFeedFake) -> None:
    c = connector("http")
    feed.seed(T0, count=12)
    first, cursor, _ = pull_to_end(c, conn(feed), CREDS)
    feed.seed(T0 + 3_600_000, count=4)
    second, _, _ = pull_to_end(c, conn(feed), CREDS, cursor)
    assert item_ids(first) + item_ids(second) == list(range(1, 33))
    assert item_ids(second) == list(range(25, 33))


def test_a_null_next_cursor_ends_and_keeps_the_cursor(feed: HttpFeedFake) -> None:
    feed.seed(T0, count=10)  # 20 items
    feed.end_null = True
    page1 = pull(connector("http"), conn(feed), CREDS)
    page2 = pull(connector("http"), conn(feed), CREDS, page1.cursor)
    assert page1.more is True and page1.cursor == {"cursor": "10"}
    assert page2.more is False and page2.cursor == {"cursor": "10"}  # asked again from 10 next time
    assert item_ids([page2]) == list(range(11, 21))


def test_wrong_header_credentials_are_auth_failed(feed: HttpFeedFake) -> None:
    with pytest.raises(ProviderAuthFailed, match="401"):
        pull(connector("http"), conn(feed), {"headers": {"X-Feed-Token": "nope"}})
    assert len(feed.calls) == 1


def test_429_is_throttled_and_5xx_unavailable(feed: HttpFeedFake) -> None:
    feed.throttle_next(7.5)
    with pytest.raises(ProviderThrottled) as throttled:
        pull(connector("http"), conn(feed), CREDS)
    assert throttled.value.retry_after_s == 7.5
    feed.throttled_until_s = 0
    feed.fail_next(502)
    with pytest.raises(ProviderUnavailable, match="502"):
        pull(connector("http"), conn(feed), CREDS)


def test_an_answer_without_the_records_array_is_unavailable(feed: HttpFeedFake) -> None:
    with pytest.raises(ProviderUnavailable, match="/records"):
        pull(connector("http"), conn(feed, recordsPointer="/records"), CREDS)


@pytest.mark.parametrize(
    ("field", "value"),
    [("recordsPointer", "data/items"), ("nextCursorPointer", 3), ("url", ""), ("cursorParam", None)],
)
def test_bad_settings_need_attention(feed: HttpFeedFake, field: str, value: Any) -> None:
    with pytest.raises(ProviderAuthFailed, match=field):
        pull(connector("http"), conn(feed, **{field: value}), CREDS)
    assert feed.calls == []


def test_a_timeout_and_an_oversized_answer_are_unavailable(feed: HttpFeedFake) -> None:
    feed.delay_next(1.0)
    with pytest.raises(ProviderUnavailable, match="timed out"):
        pull(connector("http", EgressPolicy(allow_loopback=True, timeout_s=0.2)), conn(feed), CREDS)
    feed.oversize_next(70_000)
    with pytest.raises(ProviderUnavailable, match="cap"):
        pull(connector("http", EgressPolicy(allow_loopback=True, max_response_bytes=60_000)), conn(feed), CREDS)


def test_a_redirect_is_refused(feed: HttpFeedFake) -> None:
    feed.redirect_next("http://10.0.0.1/internal")
    with pytest.raises(EgressRefused, match="redirect"):
        pull(connector("http"), conn(feed), CREDS)


@pytest.mark.parametrize(
    "url", ["http://10.0.0.8/feed", "http://169.254.169.254/latest/meta-data/", "http://localhost:9/feed"]
)
def test_a_deployed_stack_refuses_private_urls(feed: HttpFeedFake, url: str) -> None:
    with pytest.raises(EgressRefused):
        pull(connector("http", DEPLOYED), conn(feed, url=url), CREDS)


def test_connector_for_knows_the_four_providers() -> None:
    assert {connector_for(p, LOCAL).provider for p in ("geotab", "zubie", "utilityapi", "http")} == {
        "geotab",
        "zubie",
        "utilityapi",
        "http",
    }
    with pytest.raises(ValueError, match="no connector"):
        connector_for("samsara", LOCAL)
