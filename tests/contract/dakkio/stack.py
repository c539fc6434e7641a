"""A LocalStack (moto in a child process, the gateway over real HTTP) for the dialect's contract
and end-to-end tests, plus the few platform calls they need. moto runs in a child process so a
stack never collides with the in-process ``mock_aws`` of integration tests on the same worker."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import requests
from devstack.stack import LocalStack


@contextmanager
def running_stack(env: dict[str, str] | None = None) -> Iterator[LocalStack]:
    import os

    from telemetry.bootstrap import container

    stack = LocalStack(port=0, moto_mode="process", schedules=False, stack_name="dialects")
    with stack:
        os.environ.update(env or {})  # restored by the stack on exit
        container.cache_clear()
        try:
            yield stack
        finally:
            container.cache_clear()


def issue_key(org: str, scopes: list[str] | None = None) -> str:
    from telemetry.bootstrap import Container

    return Container.from_env().keys.issue(org, scopes=scopes).key


def eventually(check: Callable[[], Any], timeout: float = 10.0) -> Any:
    """Poll until ``check`` returns a truthy value (the SQS poller writes asynchronously)."""
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result or time.monotonic() > deadline:
            return result
        time.sleep(0.1)


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
