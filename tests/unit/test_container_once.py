"""``container()`` first called by many threads at once builds ONE container.

The local stack runs a function's first requests concurrently; with ``functools.cache`` every
racing thread built (and used) a container of its own. The build is slowed down here (a cold
import would be) so the race is certain; fails on the old code.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
import telemetry.bootstrap as root


@pytest.fixture
def slow_bootstrap(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[Any]]:
    real = root.bootstrap
    built: list[Any] = []

    def slow(*args: Any, **kwargs: Any) -> root.Container:
        time.sleep(0.05)
        c = real(*args, **kwargs)
        built.append(c)
        return c

    monkeypatch.setattr(root, "bootstrap", slow)
    root.container.cache_clear()
    yield built
    root.container.cache_clear()


def test_racing_first_calls_share_one_container(slow_bootstrap: list[Any]) -> None:
    barrier = threading.Barrier(16, timeout=10)
    got: list[root.Container] = []
    lock = threading.Lock()

    def first_call() -> None:
        barrier.wait()
        c = root.container()
        with lock:
            got.append(c)

    threads = [threading.Thread(target=first_call) for _ in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(20)
    assert len(got) == 16
    assert len({id(c) for c in got}) == 1
    assert len(slow_bootstrap) == 1
    assert root.container() is got[0]


def test_cache_clear_builds_a_new_container(slow_bootstrap: list[Any]) -> None:
    first = root.container()
    root.container.cache_clear()
    assert root.container() is not first
    assert len(slow_bootstrap) == 2
