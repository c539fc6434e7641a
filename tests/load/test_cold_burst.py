"""A burst on a cold local stack stores the frames of every 2xx answer.

64 clients post at once to a freshly started `telemetry-dev run` whose ingest function has not
served a request yet. This lost the frames of 1 to 4 of the 128 requests (6 of 6 runs on
2026-12-02) while every answer was 200, the queue drained and the DLQ stayed empty. The cause:
powertools keeps the request being resolved on the ``BaseRouter`` CLASS (and the route's
arguments in one dict per app); the local stack runs concurrent requests in threads of one
process, so a request's route read the body (and thing id) of another request and enqueued
those frames instead of its own. A cold start widened the window (the route builds the
container before it reads the body). Fixed by ``telemetry.http.resolver.IsolatedRestResolver``
(per-thread request state); this test fails on the old code.
"""

from __future__ import annotations

from tests.load.test_load import drive, started_platform


def test_a_burst_on_a_cold_stack_stores_every_2xx_frame() -> None:
    with started_platform(warm=False) as platform:
        drive(platform, clients=64, requests=2, frames=2, budget_s=60)
