"""A known defect, found by the load test: a burst on a cold local stack loses accepted frames.

64 clients post at once to a freshly started `telemetry-dev run` whose ingest function has not
served a request yet: every answer is 200, the readings queue drains, the DLQ stays empty, yet
the frames of a few first requests are in no series of the readings table (on 2026-12-02, 6 of
6 runs of this module alone lost the frames of 1 to 4 of the 128 requests; inside the whole
suite it passed once, hence a non-strict xfail). After one request per thing (a warm
function) the same burst lost nothing (3 of 3 runs; ``test_load.py``). The function's first requests run its cold start
concurrently in one process, which Lambda never does (one request per execution environment),
so the cause is shared lazily built state (the cached container, lazily created boto3 clients)
raced by threads: to be found and fixed, then this marker removed.
"""

from __future__ import annotations

import pytest

from tests.load.test_load import drive, started_platform


@pytest.mark.xfail(reason="frames of 2xx answers are lost on a cold, concurrent start (see the module docstring)")
def test_a_burst_on_a_cold_stack_stores_every_2xx_frame() -> None:
    with started_platform(warm=False) as platform:
        drive(platform, clients=64, requests=2, frames=2, budget_s=60)
