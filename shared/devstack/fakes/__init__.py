"""Local fake servers of the providers (dev tools, never in the Lambda layer): docs/integrations.md,
"Local fakes". Real HTTP servers on free local ports, seeded, with fault knobs and a call log.

    with start_fakes() as fakes:
        fakes.urls["geotab"]       # http://127.0.0.1:PORT  (a connection's ``server`` / ``baseUrl``)
        fakes.geotab.throttle_next(58)
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from devstack.fakes.base import Call, FakeProvider
from devstack.fakes.geotab import GeotabFake
from devstack.fakes.http_feed import HttpFeedFake
from devstack.fakes.utilityapi import UtilityApiFake
from devstack.fakes.zubie import PREFIX as ZUBIE_PREFIX
from devstack.fakes.zubie import ZubieFake

__all__ = [
    "Call",
    "FakeProvider",
    "GeotabFake",
    "HttpFeedFake",
    "RunningFakes",
    "UtilityApiFake",
    "ZubieFake",
    "start_fakes",
]


@dataclass
class RunningFakes:
    geotab: GeotabFake
    #: a second Geotab server: ``geotab`` redirects to it when ``redirect_geotab()`` was called
    geotab_home: GeotabFake
    zubie: ZubieFake
    utilityapi: UtilityApiFake
    http: HttpFeedFake

    @property
    def urls(self) -> dict[str, str]:
        """Base URLs per provider, as a connection names them (Zubie's includes its API prefix;
        the ``http`` entry is the feed's full URL)."""
        return {
            "geotab": self.geotab.url,
            "zubie": self.zubie.url + ZUBIE_PREFIX,
            "utilityapi": self.utilityapi.url,
            "http": self.http.url + "/feed",
        }

    def all(self) -> list[FakeProvider]:
        return [self.geotab, self.geotab_home, self.zubie, self.utilityapi, self.http]

    def redirect_geotab(self, on: bool = True) -> None:
        """Authenticate on ``geotab`` answers ``path`` = ``geotab_home``'s host (server redirection)."""
        self.geotab.redirect_to = self.geotab_home if on else None


@contextmanager
def start_fakes(host: str = "127.0.0.1", seed_from_ms: int | None = None) -> Iterator[RunningFakes]:
    """Start every fake, seeded with the last hour (or from ``seed_from_ms``); stop them on exit."""
    now_ms = int(time.time() * 1000)
    start = seed_from_ms if seed_from_ms is not None else now_ms - now_ms % 900_000 - 3_600_000
    geotab, home = GeotabFake(host), GeotabFake(host)
    home.users = geotab.users  # one account, two servers
    home.feeds = geotab.feeds
    running = RunningFakes(geotab, home, ZubieFake(host), UtilityApiFake(host), HttpFeedFake(host))
    running.geotab.seed(start, minutes=60)
    running.zubie.seed(start)
    running.utilityapi.seed(start, hours=1)
    running.http.seed(start)
    started: list[FakeProvider] = []
    try:
        for fake in running.all():
            started.append(fake.start())
        yield running
    finally:
        for fake in started:
            fake.stop()
