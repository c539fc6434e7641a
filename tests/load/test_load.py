"""Loopback load against the local stack as `make run` starts it: many keep-alive clients at once.

Promise under test: the local gateway serves at least 64 simultaneous connections without a
reset, answers no 5xx, and every frame of every 2xx is stored (read back over HTTP once the
writer has drained the queue). Loopback only, bounded in clients, requests and time.

``test_64_connections_sample`` runs in the normal suite; ``test_load`` is ``make load``
(``-m slow``).
"""

from __future__ import annotations

import http.client
import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3
import pytest
from devstack.stack import default_state_file, free_port

from tests.support import REPO, eventually

T0 = 1718884800000
THINGS = 8


CLI = str(Path(sys.executable).with_name("telemetry-dev"))


@dataclass
class Platform:
    port: int
    key: str
    state: dict[str, Any]
    things: list[str] = field(default_factory=list)
    metric: str = field(default_factory=lambda: f"soc{time.monotonic_ns()}")

    def call(self, conn: http.client.HTTPConnection, method: str, path: str, body: Any = None) -> tuple[int, Any]:
        headers = {"X-Api-Key": self.key, "Content-Type": "application/json"}
        conn.request(method, path, body=None if body is None else json.dumps(body), headers=headers)
        response = conn.getresponse()
        raw = response.read()
        return response.status, json.loads(raw) if raw else None

    def _client(self, service: str) -> Any:
        return boto3.client(
            service,  # type: ignore[call-overload]
            endpoint_url=self.state["endpoint_url"],
            region_name=self.state["region"],
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
        )

    def table_times(self, thing: str, times: list[int]) -> list[int]:
        """Which of ``times`` the readings table holds for ``thing`` (a diagnosis, past the API)."""
        table = self.state["resources"]["ReadingsTable"]["ref"]
        found: set[int] = set()
        for page in self._client("dynamodb").get_paginator("scan").paginate(TableName=table):
            found |= {int(i["t"]["N"]) for i in page["Items"] if thing in i["pk"]["S"] and "t" in i}
        return sorted(found & set(times))

    def series_of(self, times: list[int]) -> dict[int, list[str]]:
        """The series (readings table pk) that hold each of ``times`` (a diagnosis)."""
        table = self.state["resources"]["ReadingsTable"]["ref"]
        where: dict[int, list[str]] = {}
        for page in self._client("dynamodb").get_paginator("scan").paginate(TableName=table):
            for item in page["Items"]:
                if "t" in item and int(item["t"]["N"]) in times:
                    where.setdefault(int(item["t"]["N"]), []).append(item["pk"]["S"].rsplit("#", 1)[-1])
        return where

    def queue_depth(self, logical_id: str) -> int:
        """Visible plus in-flight messages of a queue in the stack's moto server."""
        sqs = self._client("sqs")
        names = ["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"]
        url = self.state["resources"][logical_id]["ref"]
        attributes: dict[str, str] = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=names)["Attributes"]
        return sum(int(attributes[n]) for n in names)


@contextmanager
def started_platform(warm: bool) -> Iterator[Platform]:
    """`telemetry-dev run` in its own process, as `make run` starts it (the clients share no GIL with it).

    ``warm``: one request per thing first, so that the burst does not hit the ingest function's
    cold start (see tests/load/test_cold_burst.py for why that matters locally).
    """
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    proc = subprocess.Popen(
        [CLI, "run", "--port", str(port), "--stack-name", "load"],
        cwd=REPO,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        assert proc.stdout is not None
        key = None
        deadline = time.monotonic() + 120
        while key is None and time.monotonic() < deadline and proc.poll() is None:
            line = proc.stdout.readline()
            if line.startswith("API key: "):
                key = line.removeprefix("API key: ").strip()
        assert key and key.startswith("avy_"), "the stack printed no API key"
        threading.Thread(target=proc.stdout.read, daemon=True).start()  # never block its stdout
        state = json.loads(default_state_file(REPO / "template.yaml", port).read_text(encoding="utf-8"))
        p = Platform(port, key, state)
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        definition = {"name": p.metric, "dataType": "Double", "defaultAggregation": "Avg"}
        status, metric = p.call(conn, "POST", "/v2/definitions/metrics", definition)
        assert status == 201, metric
        kind_body = {"displayName": "Cell", "metricIds": [metric["id"]]}
        status, kind = p.call(conn, "POST", "/v2/definitions/thing-types", kind_body)
        assert status == 201, kind
        status, site = p.call(conn, "POST", "/v2/sites", {"name": "Load"})
        assert status == 201, site
        for n in range(THINGS):
            thing_body = {"thingName": f"cell-{n}", "thingTypeId": kind["id"]}
            status, thing = p.call(conn, "POST", f"/v2/sites/{site['id']}/things", thing_body)
            assert status == 201, thing
            p.things.append(thing["id"])
        if warm:
            first = {"frames": [{"timestamp": T0 - 1, "metrics": {p.metric: 0.0}}]}
            for thing_id in p.things:
                assert p.call(conn, "POST", f"/v2/thing/{thing_id}/data", first)[0] == 200
        conn.close()
        yield p
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()


@pytest.fixture(scope="module")
def platform() -> Iterator[Platform]:
    with started_platform(warm=True) as p:
        yield p


@dataclass
class Run:
    statuses: Counter[int] = field(default_factory=Counter)
    errors: list[str] = field(default_factory=list)
    accepted: dict[str, set[int]] = field(default_factory=dict)  # thing -> timestamps of 2xx frames
    lock: threading.Lock = field(default_factory=threading.Lock)


def _client(
    platform: Platform, run: Run, barrier: threading.Barrier, client: int, requests: int, frames: int, base: int
) -> None:
    thing = platform.things[client % len(platform.things)]
    try:
        barrier.wait(timeout=60)
        # connect on the barrier: every client's SYN lands at once, then one keep-alive connection
        conn = http.client.HTTPConnection("127.0.0.1", platform.port, timeout=60)
        conn.connect()
        barrier.wait(timeout=60)  # all connections are open at the same time
        for r in range(requests):
            stamps = [base + client * 1_000_000 + r * 1_000 + f for f in range(frames)]
            body = {"frames": [{"timestamp": t, "metrics": {platform.metric: float(t % 97)}} for t in stamps]}
            status, answer = platform.call(conn, "POST", f"/v2/thing/{thing}/data", body)
            with run.lock:
                run.statuses[status] += 1
                if 200 <= status < 300:
                    run.accepted.setdefault(thing, set()).update(stamps)
                elif status >= 500:
                    run.errors.append(f"client {client} request {r}: {status} {answer}")
        conn.close()
    except Exception as exc:  # a reset, a refused connect, a timeout: all are failures here
        with run.lock:
            run.errors.append(f"client {client}: {type(exc).__name__}: {exc}")


def _stored(platform: Platform, thing: str) -> list[int]:
    conn = http.client.HTTPConnection("127.0.0.1", platform.port, timeout=30)
    stamps: list[int] = []
    token: str | None = None
    try:
        while True:
            query = f"start={T0}&end={T0 + 10**9}&metrics={platform.metric}&pageLimit=1000"
            if token:
                query += f"&continuationToken={token}"
            status, page = platform.call(conn, "GET", f"/v2/things/{thing}/history?{query}")
            assert status == 200, page
            stamps += [f["timestamp"] for f in page["frames"]]
            token = page.get("continuationToken")
            if not token:
                return stamps
    finally:
        conn.close()


def drive(
    platform: Platform,
    clients: int,
    requests: int,
    frames: int,
    budget_s: float,
    base: int = T0,
    check_store: bool = True,
) -> Run:
    """``clients`` keep-alive clients at once; frame times start at ``base``, unique per run."""
    run = Run()
    barrier = threading.Barrier(clients)
    started = time.monotonic()
    workers = [
        threading.Thread(target=_client, args=(platform, run, barrier, c, requests, frames, base), daemon=True)
        for c in range(clients)
    ]
    for w in workers:
        w.start()
    for w in workers:
        w.join(timeout=max(1.0, budget_s - (time.monotonic() - started)))
    assert not any(w.is_alive() for w in workers), f"clients still running after {budget_s} s"
    assert run.errors == [], run.errors[:5]
    assert sum(run.statuses.values()) == clients * requests
    assert all(s < 500 for s in run.statuses), run.statuses
    assert run.accepted, f"nothing was accepted: {run.statuses}"
    if not check_store:
        return run
    # let the writer drain the queue (cheap to poll), then read every thing back once
    left = budget_s - (time.monotonic() - started)
    drained = eventually(lambda: platform.queue_depth("ReadingsQueue") == 0, timeout=max(1.0, left))
    assert drained, f"{platform.queue_depth('ReadingsQueue')} messages still queued after {budget_s} s"
    for thing, expected in run.accepted.items():
        stored = _stored(platform, thing)
        missing = sorted(expected - set(stored))
        assert not missing, (
            f"{thing}: {len(missing)} of {len(expected)} frames of 2xx answers are missing, e.g. {missing[:4]}; "
            f"in the readings table: {platform.table_times(thing, missing)}; stored under: {platform.series_of(missing)}"
        )
        assert sorted(stored) == sorted(expected), "every frame is stored exactly once"
    assert time.monotonic() - started < budget_s
    assert platform.queue_depth("ReadingsDeadLetterQueue") == 0
    return run


def test_64_connections_sample(platform: Platform) -> None:
    """The fast sample in the normal suite: 64 simultaneous keep-alive connections, 2 posts each.

    Fails on the old gateway (listen backlog 5: most of the 64 connects were reset).
    """
    run = drive(platform, clients=64, requests=2, frames=2, budget_s=60)
    assert run.statuses == Counter({200: 128})


@pytest.mark.slow
def test_load(platform: Platform) -> None:
    """`make load`: 96 simultaneous keep-alive clients, 5 posts of 4 frames each (1,920 frames).

    Bounded by the writer: one poller feeding moto's DynamoDB stores a few dozen messages a
    second on a shared two-core machine; posts, drain and read-back stay under two minutes.
    """
    run = drive(platform, clients=96, requests=5, frames=4, budget_s=110, base=T0 + 10**8)
    assert run.statuses[200] == 96 * 5, run.statuses
