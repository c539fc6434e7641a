"""start_fakes: every fake up, seeded, and each connector reads it through .urls."""

from __future__ import annotations

import http.server

import httpx
import pytest
from devstack.fakes import start_fakes

from .conftest import HOUR, connector, pull_to_end


def test_every_connector_reads_its_running_fake_by_its_url() -> None:
    with start_fakes(seed_from_ms=1_699_999_200_000) as fakes:
        start, now = 1_699_999_200_000, 1_699_999_200_000 + 2 * HOUR
        geotab, _, _ = pull_to_end(
            connector("geotab"),
            {"server": fakes.urls["geotab"], "database": "demo", "feeds": ["StatusData"], "resultsLimit": 1000},
            {"userName": "ops@example.com", "password": "s3cret"},
            start_ms=start,
            now_ms=now,
        )
        zubie, _, _ = pull_to_end(
            connector("zubie"),
            {"baseUrl": fakes.urls["zubie"]},
            {"apiKey": "zubie-test-key"},
            start_ms=start,
            now_ms=now,
        )
        uapi, _, _ = pull_to_end(
            connector("utilityapi"),
            {"baseUrl": fakes.urls["utilityapi"]},
            {"apiToken": "uapi-test-token"},
            external_ids=("101", "102"),
            start_ms=start,
            now_ms=now,
        )
        feed, _, _ = pull_to_end(
            connector("http"),
            {
                "url": fakes.urls["http"],
                "cursorParam": "cursor",
                "nextCursorPointer": "/next",
                "recordsPointer": "/data/items",
                "recordType": "FeedReading",
            },
            {"headers": {"X-Feed-Token": "feed-test-token"}},
        )
        assert sum(len(p.records) for p in geotab) == 3 * 60 * 2
        assert sum(len(p.records) for p in zubie) == 2 * 3 * 12
        assert sum(len(p.records) for p in uapi) == 2 * 4
        assert sum(len(p.records) for p in feed) == 60
        # the redirect switch sends Geotab clients to the second server
        fakes.redirect_geotab()
        _, _, creds = pull_to_end(
            connector("geotab"),
            {"server": fakes.urls["geotab"], "database": "demo", "feeds": ["LogRecord"], "resultsLimit": 50},
            {"userName": "ops@example.com", "password": "s3cret"},
            start_ms=start,
            now_ms=now,
        )
        assert creds["path"] == fakes.geotab_home.hostport and fakes.geotab_home.calls_to("GetFeed")
        urls = list(fakes.urls.values())
    # stopped on exit
    for url in urls:
        try:
            httpx.get(url, timeout=0.5)
        except httpx.TransportError:
            continue
        raise AssertionError(f"{url} still answers")


def test_a_client_hanging_up_early_prints_no_traceback(capfd: pytest.CaptureFixture[str]) -> None:
    """The response-cap tests hang up mid-answer on purpose; the fake must not print socketserver's traceback."""
    from devstack.fakes.base import FakeServer

    server = FakeServer(("127.0.0.1", 0), http.server.BaseHTTPRequestHandler)
    try:
        for error in (BrokenPipeError(32, "Broken pipe"), ConnectionResetError(104, "reset by peer")):
            try:
                raise error
            except ConnectionError:
                server.handle_error(None, ("127.0.0.1", 1))
        assert capfd.readouterr().err == ""
        try:
            raise ValueError("a real defect of the fake")
        except ValueError:
            server.handle_error(None, ("127.0.0.1", 1))
        assert "a real defect of the fake" in capfd.readouterr().err
    finally:
        server.server_close()
