"""The per-sensor rate limit under concurrency: threads, each one "Lambda instance" with its own
boto3 clients and caches, against the DynamoDB item store and SQS of the real template (moto).

The slot is taken with ItemStore ``Expect.LEASE`` (a conditional PutItem): of two takers in the
same interval exactly one wins. DynamoDB evaluates a condition and writes the item atomically;
moto's emulation does not (two threads can both pass the check: we saw it), so the fixture
below gives moto's write operations DynamoDB's per-item atomicity with a lock. That is not a
mock of our code: a read-then-write rate limit in our code would still let several batches in,
because each thread would read the slot as free before any of them wrote it.
"""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import boto3
import orjson
import pytest
from telemetry.adapters.items_dynamodb import DynamoDbItemStore
from telemetry.adapters.queue_sqs import SqsReadingQueue
from telemetry.bootstrap import bootstrap
from telemetry.bootstrap.ambiquality import AmbiqualityServices
from telemetry.services.ambiquality.errors import SensorRateLimited
from telemetry.settings import Settings

from tests.integration.ambiquality.helpers import DOC_READINGS, make_sensor
from tests.integration.conftest import Platform, drain, serialize_moto_dynamodb

THREADS = 8
T0 = 1_714_564_800_000


@pytest.fixture(autouse=True)
def atomic_dynamodb_writes(monkeypatch: pytest.MonkeyPatch) -> None:
    serialize_moto_dynamodb(monkeypatch)


def instance(p: Platform) -> AmbiqualityServices:
    session = boto3.session.Session(region_name="us-east-1")
    ddb, sqs = session.client("dynamodb"), session.client("sqs")
    table = p.resources["DefinitionsTable"].ref
    queue_url = p.resources["ReadingsQueue"].ref
    return bootstrap(
        Settings(), store=DynamoDbItemStore(table, client=ddb), queue=lambda: SqsReadingQueue(queue_url, client=sqs)
    ).ambiquality


def race(p: Platform, key: str, body: bytes, now: int) -> list[str]:
    """THREADS instances send the same sensor's batch at the same instant; their outcomes."""
    instances = [instance(p) for _ in range(THREADS)]
    barrier = threading.Barrier(THREADS)

    def one(services: AmbiqualityServices) -> str:
        services.measurements.clock = lambda: now
        services.measurements.authenticate(key)  # warm: reads done before the race
        barrier.wait()
        try:
            services.measurements.ingest(key, body)
        except SensorRateLimited as exc:
            assert exc.retry_after_seconds >= 1
            return "429"
        return "202"

    with ThreadPoolExecutor(THREADS) as pool:
        return sorted(pool.map(one, instances))


def test_concurrent_batches_in_one_interval_exactly_one_accepted(platform: Platform) -> None:
    made = make_sensor(platform)
    body = orjson.dumps({"sensorId": made.sensor_id, "readings": DOC_READINGS})
    drain(platform)
    for round_ in range(3):  # every interval again: one winner per interval
        outcomes = race(platform, made.sensor_key, body, T0 + round_ * 300_000)
        assert outcomes == ["202"] + ["429"] * (THREADS - 1), outcomes
    assert drain(platform) == 3


def test_concurrent_batches_of_different_sensors_are_all_accepted(platform: Platform) -> None:
    sensors = [make_sensor(platform) for _ in range(4)]
    drain(platform)
    barrier = threading.Barrier(len(sensors))

    def one(index: int) -> str:
        made = sensors[index]
        services = instance(platform)
        services.measurements.authenticate(made.sensor_key)
        barrier.wait()
        services.measurements.ingest(
            made.sensor_key, orjson.dumps({"sensorId": made.sensor_id, "readings": DOC_READINGS})
        )
        return "202"

    with ThreadPoolExecutor(len(sensors)) as pool:
        assert list(pool.map(one, range(len(sensors)))) == ["202"] * len(sensors)
    assert drain(platform) == len(sensors)
