"""Each connector against its fake provider: real HTTP on 127.0.0.1, the local egress policy."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from devstack.fakes import GeotabFake, HttpFeedFake, UtilityApiFake, ZubieFake
from telemetry.adapters.connectors import connector_for
from telemetry.adapters.egress import EgressPolicy
from telemetry.ports.integrations import Connector, PullPage, PullRequest

#: 2023-11-14T22:00:00Z, a whole hour: the seeds start here
T0 = 1_699_999_200_000
HOUR = 3_600_000
LOCAL = EgressPolicy(allow_loopback=True, timeout_s=2.0)
DEPLOYED = EgressPolicy(allow_loopback=False)


def connector(provider: str, policy: EgressPolicy = LOCAL) -> Connector:
    return connector_for(provider, policy)


def pull(
    c: Connector,
    connection: dict[str, Any],
    credentials: dict[str, Any],
    cursor: dict[str, Any] | None = None,
    external_ids: tuple[str, ...] = (),
    start_ms: int = T0,
    now_ms: int = T0 + 24 * HOUR,
) -> PullPage:
    return c.pull(PullRequest(connection, credentials, cursor, list(external_ids), start_ms, now_ms))


def pull_to_end(
    c: Connector,
    connection: dict[str, Any],
    credentials: dict[str, Any],
    cursor: dict[str, Any] | None = None,
    max_steps: int = 200,
    **kwargs: Any,
) -> tuple[list[PullPage], dict[str, Any] | None, dict[str, Any]]:
    """Steps until ``more`` is false, as the pull service would: the cursor and the written-back
    credentials of each page feed the next step. Returns the pages, the last cursor, the credentials."""
    pages: list[PullPage] = []
    for _ in range(max_steps):
        page = pull(c, connection, credentials, cursor, **kwargs)
        pages.append(page)
        cursor = page.cursor
        if page.credentials is not None:
            credentials = dict(page.credentials)
        if not page.more:
            return pages, cursor, credentials
    raise AssertionError(f"still more after {max_steps} steps")


@pytest.fixture
def geotab() -> Iterator[GeotabFake]:
    fake = GeotabFake().start()
    yield fake
    fake.stop()


@pytest.fixture
def geotab_home(geotab: GeotabFake) -> Iterator[GeotabFake]:
    """A second Geotab server holding the same account, where ``geotab`` sends clients."""
    fake = GeotabFake()
    fake.users, fake.feeds = geotab.users, geotab.feeds
    fake.start()
    geotab.redirect_to = fake
    yield fake
    fake.stop()


@pytest.fixture
def zubie() -> Iterator[ZubieFake]:
    fake = ZubieFake().start()
    yield fake
    fake.stop()


@pytest.fixture
def utilityapi() -> Iterator[UtilityApiFake]:
    fake = UtilityApiFake().start()
    yield fake
    fake.stop()


@pytest.fixture
def feed() -> Iterator[HttpFeedFake]:
    fake = HttpFeedFake().start()
    yield fake
    fake.stop()
