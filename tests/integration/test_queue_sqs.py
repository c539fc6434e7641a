"""SqsReadingQueue against moto's SQS."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.stub import Stubber
from botocore.validate import ParamValidationDecorator
from moto import mock_aws
from telemetry.adapters.queue_sqs import SqsReadingQueue, split_batch
from telemetry.errors import PayloadTooLarge, Unavailable
from telemetry.models.metrics import DataType
from telemetry.models.readings import AcceptedBatch, Measure, Record, SeriesKind

ORG = "org_a"


pytestmark = pytest.mark.usefixtures("fake_aws_env")


@pytest.fixture
def sqs() -> Iterator[tuple[Any, str]]:
    with mock_aws():
        client = boto3.client("sqs", region_name="us-east-1")
        yield client, client.create_queue(QueueName="readings")["QueueUrl"]


def drain(client: Any, url: str) -> list[AcceptedBatch]:
    batches: list[AcceptedBatch] = []
    while True:
        messages = client.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", [])
        if not messages:
            return batches
        for message in messages:
            batches.append(AcceptedBatch.from_bytes(message["Body"]))
            client.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])


def batch(n: int, text: str = "x", batch_id: str = "b1") -> AcceptedBatch:
    records = [
        Record(
            ORG, SeriesKind.THING, "s1", t, {"note": Measure(DataType.String, text), "v": Measure(DataType.Int, t)}, 9
        )
        for t in range(n)
    ]
    return AcceptedBatch(batch_id, ORG, records)


def test_one_message_per_batch(sqs: tuple[Any, str]) -> None:
    client, url = sqs
    calls: Counter[str] = Counter()
    client.meta.events.register("before-call.sqs.*", lambda model, **_: calls.update([model.name]))

    SqsReadingQueue(url, client).enqueue(batch(500))
    SqsReadingQueue(url, client).enqueue(batch(3, batch_id="b2"))

    assert calls == Counter({"SendMessage": 2})
    assert sorted((b.batch_id, len(b.records)) for b in drain(client, url)) == [("b1", 500), ("b2", 3)]


def test_a_batch_that_fits_is_serialized_once(sqs: tuple[Any, str], monkeypatch: pytest.MonkeyPatch) -> None:
    """The body measured against the limit is the body sent (failed before: serialized twice)."""
    client, url = sqs
    serialized: list[str] = []
    to_bytes = AcceptedBatch.to_bytes

    def counted(self: AcceptedBatch) -> bytes:
        serialized.append(self.batch_id)
        return to_bytes(self)

    monkeypatch.setattr(AcceptedBatch, "to_bytes", counted)
    SqsReadingQueue(url, client).enqueue(batch(500))
    assert serialized == ["b1"]
    monkeypatch.undo()
    assert [len(b) for b in drain(client, url)] == [500]


def test_batch_over_the_limit_is_split_into_valid_batches(sqs: tuple[Any, str]) -> None:
    client, url = sqs
    original = batch(400, text="é" * 30)
    body_size = len(original.to_bytes())
    queue = SqsReadingQueue(url, client, max_message_bytes=body_size // 3)

    queue.enqueue(original)

    parts = sorted(drain(client, url), key=lambda b: int(b.batch_id.split(".")[1]))
    assert len(parts) in (4, 5)  # a third of the body each, plus the envelope and series header per part
    assert [p.batch_id for p in parts] == [f"b1.{n}" for n in range(1, len(parts) + 1)]
    assert all(len(p.to_bytes()) <= body_size // 3 for p in parts)
    assert [r for p in parts for r in p.records] == original.records
    assert all(p.org_id == ORG for p in parts)


def test_split_packs_parts_close_to_the_limit() -> None:
    # Given 50 readings of equal size (times and values 10..59 all have two digits)
    original = batch(60)
    original.groups[0].rows[:10] = []
    # and a limit just above the body of 10 of them (room for the ".N" suffix and the comma estimate)
    limit = len(AcceptedBatch("b1", ORG, original.records[:10]).to_bytes()) + 8
    # When split
    parts = split_batch(original, limit)
    # Then each part holds as many readings as fit, none is over the limit, and nothing is lost
    assert [len(p) for p in parts] == [10] * 5
    assert max(len(p.to_bytes()) for p in parts) <= limit
    assert [r for p in parts for r in p.records] == original.records


def test_a_single_record_over_the_limit_is_payload_too_large(sqs: tuple[Any, str]) -> None:
    client, url = sqs
    with pytest.raises(PayloadTooLarge):
        SqsReadingQueue(url, client, max_message_bytes=1000).enqueue(batch(2, text="y" * 2000))
    assert drain(client, url) == []


def test_queue_outage_is_unavailable() -> None:
    """A mocked client error: an SQS outage cannot be caused on moto (or on demand on AWS)."""
    client = boto3.client("sqs", region_name="us-east-1")
    with Stubber(client) as stub:
        stub.add_client_error("send_message", "AWS.SimpleQueueService.ServiceUnavailable", http_status_code=503)
        with pytest.raises(Unavailable):
            SqsReadingQueue("https://sqs.us-east-1.amazonaws.com/123456789012/readings", client).enqueue(batch(1))


def test_the_adapters_own_client_skips_parameter_validation_and_still_sends(sqs: tuple[Any, str]) -> None:
    client, url = sqs
    queue = SqsReadingQueue(url)
    # botocore wraps the serializer of a validating client (botocore.client / botocore.validate)
    assert not isinstance(queue.client._serializer, ParamValidationDecorator)  # type: ignore[attr-defined]
    queue.enqueue(batch(3, batch_id="own"))
    assert [(b.batch_id, len(b)) for b in drain(client, url)] == [("own", 3)]


def test_missing_queue_is_unavailable(sqs: tuple[Any, str]) -> None:
    client, url = sqs
    with pytest.raises(Unavailable):
        SqsReadingQueue(url + "-gone", client).enqueue(batch(1))


def test_unreachable_endpoint_is_unavailable() -> None:
    client = boto3.client(
        "sqs",
        region_name="us-east-1",
        endpoint_url="http://127.0.0.1:9",
        config=Config(retries={"max_attempts": 1, "mode": "standard"}, connect_timeout=1),
    )
    with pytest.raises(Unavailable):
        SqsReadingQueue("http://127.0.0.1:9/123456789012/readings", client).enqueue(batch(1))


def test_split_of_several_series_keeps_each_rows_series() -> None:
    records = [
        Record(ORG, SeriesKind.SENSOR, f"s{t % 3}", t, {"v": Measure(DataType.Int, t)}, 5, {"site": f"d{t % 3}"})
        for t in range(300)
    ]
    original = AcceptedBatch("b9", ORG, records)
    parts = split_batch(original, len(original.to_bytes()) // 4)
    assert len(parts) >= 4
    assert sorted((r.series_id, r.time) for p in parts for r in p.records) == sorted(
        (r.series_id, r.time) for r in records
    )
    assert [r for p in parts for r in AcceptedBatch.from_bytes(p.to_bytes()).records] == original.records
