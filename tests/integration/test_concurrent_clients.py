"""A cold adapter used by many threads at once builds ONE boto3 client, and it works.

The local stack runs a function's first requests concurrently; the adapters' lazy ``client``
was then built by every thread at once from boto3's default session, which is not thread-safe.
Fails on the old code (several distinct clients per adapter).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws
from telemetry.adapters.items_dynamodb import DynamoDbItemStore
from telemetry.adapters.queue_sqs import SqsReadingQueue
from telemetry.adapters.readings_dynamodb import DynamoDbReadingStore
from telemetry.models.metrics import DataType
from telemetry.models.readings import AcceptedBatch, Measure, Record, SeriesKind

pytestmark = pytest.mark.usefixtures("fake_aws_env")

THREADS = 16


@pytest.fixture
def aws() -> Iterator[None]:
    with mock_aws():
        yield


def clients_seen(read: Callable[[], Any]) -> set[int]:
    """``read()`` from THREADS threads released together; the ids of the clients they got."""
    barrier = threading.Barrier(THREADS, timeout=10)
    seen: list[Any] = []  # the clients themselves: ids of collected objects could be reused
    lock = threading.Lock()

    def worker() -> None:
        barrier.wait()
        client = read()
        with lock:
            seen.append(client)

    threads = [threading.Thread(target=worker) for _ in range(THREADS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert len(seen) == THREADS
    return {id(c) for c in seen}


@pytest.mark.usefixtures("aws")
def test_the_queue_builds_one_sqs_client_and_sends_with_it() -> None:
    url = boto3.client("sqs", region_name="us-east-1").create_queue(QueueName="readings")["QueueUrl"]
    queue = SqsReadingQueue(url)
    assert len(clients_seen(lambda: queue.client)) == 1
    record = Record("org_a", SeriesKind.THING, "t1", 1, {"soc": Measure(DataType.Double, 1.0)}, version=1)
    queue.enqueue(AcceptedBatch("b1", "org_a", [record]))
    attributes = queue.client.get_queue_attributes(QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages"])
    assert attributes["Attributes"]["ApproximateNumberOfMessages"] == "1"


@pytest.mark.usefixtures("aws")
def test_the_dynamodb_adapters_build_one_client_each() -> None:
    readings = DynamoDbReadingStore("readings")
    items = DynamoDbItemStore("definitions")
    assert len(clients_seen(lambda: readings.client)) == 1
    assert len(clients_seen(lambda: items.client)) == 1
    assert readings.client is not items.client
    assert readings.client.list_tables()["TableNames"] == []
