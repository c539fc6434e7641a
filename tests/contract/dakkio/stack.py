"""A LocalStack (moto in a child process, the gateway over real HTTP) for the dialect's contract
and end-to-end tests, plus the few platform calls they need. moto runs in a child process so a
stack never collides with the in-process ``mock_aws`` of integration tests on the same worker."""

from __future__ import annotations

from typing import Any

import requests

from tests.support import eventually, issue_key, running_stack

__all__ = ["eventually", "issue_key", "running_stack"]


def make_bucket(url: str, key: str, schema: dict[str, Any]) -> tuple[str, str, str]:
    """(bucketId, dataSourceId, thingId) created through the platform API."""
    h = {"X-Api-Key": key}
    bucket = requests.post(f"{url}/v2/buckets", json={"name": "home"}, headers=h, timeout=10)
    assert bucket.status_code == 201, bucket.text
    source = requests.post(
        f"{url}/v2/buckets/{bucket.json()['id']}/data-sources",
        json={"name": "ESP32 living room", "schema": schema},
        headers=h,
        timeout=10,
    )
    assert source.status_code == 201, source.text
    return bucket.json()["id"], source.json()["id"], source.json()["thingId"]
