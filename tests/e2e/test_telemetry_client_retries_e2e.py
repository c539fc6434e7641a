"""429s the real stack answers, and how the client meets them: the dakkio dialect's rate limit
(burst lowered to 2 for this stack) is waited out by honouring ``Retry-After``; the ambiquality
sensor's reporting interval (5 minutes, beyond the client's ``max_retry_after``) is raised as a
typed ``RateLimited`` carrying ``retry_after``, without sleeping and without a second request."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from telemetry_client import Client, RateLimited

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def local_stack() -> Iterator[object]:
    from tests.support import running_stack

    with running_stack(env={"DAKKIO_RATE_BURST": "2", "DAKKIO_RATE_PER_SECOND": "2"}, stack_name="retries") as stack:
        yield stack


class Recording(httpx.HTTPTransport):
    def __init__(self) -> None:
        super().__init__()
        self.statuses: list[tuple[str, int, str | None]] = []

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        response = super().handle_request(request)
        self.statuses.append((request.url.path, response.status_code, response.headers.get("retry-after")))
        return response


def test_the_dakkio_rate_limit_is_waited_out_with_retry_after(local_stack: Any, api_key: str) -> None:
    transport, waits = Recording(), []

    def sleep(seconds: float) -> None:
        waits.append(seconds)
        import time

        time.sleep(seconds)

    with Client(local_stack.url, api_key, transport=transport, sleep=sleep) as api:
        bucket = api.create_bucket({"name": "b"})
        source = api.create_data_source(bucket["id"], {"name": "s", "schema": {"t": {"type": "number"}}})
        for second in range(5):  # burst 2: the later ones meet a 429 first
            point = {"dataSourceId": source["id"], "timestamp": f"2024-01-15T10:30:0{second}Z", "values": {"t": second}}
            assert api.dakkio_ingest(bucket["id"], point)["dataPoint"]["values"] == {"t": second}
    limited = [s for s in transport.statuses if s[0] == "/api/data" and s[1] == 429]
    assert limited and all(retry_after for *_, retry_after in limited)
    assert len(waits) == len(limited) and all(w >= float(limited[0][2] or 0) for w in waits)
    assert sum(1 for s in transport.statuses if s[0] == "/api/data" and s[1] == 201) == 5


def test_a_retry_after_beyond_the_cap_is_raised_typed(local_stack: Any, api_key: str) -> None:
    transport = Recording()
    with Client(local_stack.url, api_key, transport=transport) as api:
        building = api.create_building({"name": "HQ"})
        room = api.create_room(building["id"], {"name": "R"})
        sensor = api.create_sensor(room["id"], {"name": "s", "parameters": ["co2"]})
        reading = [{"parameterCode": "co2", "value": 500, "unit": "ppm"}]
        api.send_measurements(sensor["secretKey"], sensor["id"], reading)
        with pytest.raises(RateLimited) as limited:
            api.send_measurements(sensor["secretKey"], sensor["id"], reading)
    assert limited.value.status == 429 and limited.value.retry_after and limited.value.retry_after > 120
    assert [s[1] for s in transport.statuses if s[0] == "/ingestion/v1/measurements"] == [202, 429]
