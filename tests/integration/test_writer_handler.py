"""The writer Lambda handler in-process, on moto's DynamoDB, with SQS events as Lambda builds them."""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

import boto3
import pytest
from moto import mock_aws
from telemetry.models.metrics import DataType
from telemetry.models.readings import AcceptedBatch, Measure, Record, SeriesKind

from tests.integration.conftest import create_table_from_template

TABLE = "readings"
ORG = "org_a"
HANDLER = Path(__file__).resolve().parents[2] / "functions" / "writer" / "app.py"


@dataclass
class FakeContext:
    function_name: str = "writer"
    memory_limit_in_mb: int = 256
    invoked_function_arn: str = "arn:aws:lambda:us-east-1:123456789012:function:writer"
    aws_request_id: str = "req-1"


@pytest.fixture(autouse=True)
def aws_env(fake_aws_env: None, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("READING_STORE", raising=False)
    monkeypatch.setenv("READINGS_TABLE", TABLE)
    monkeypatch.setenv("POWERTOOLS_SERVICE_NAME", "writer")


@pytest.fixture
def ddb() -> Iterator[Any]:
    with mock_aws():
        client = boto3.client("dynamodb", region_name="us-east-1")
        create_table_from_template(client, "ReadingsTable", TABLE)
        yield client


@pytest.fixture
def app(ddb: Any) -> Iterator[ModuleType]:
    """A fresh handler module and composition root per test, so its store is built from this
    test's environment inside this test's moto (not reused from whatever ran before)."""
    from telemetry.bootstrap import container

    container.cache_clear()
    spec = importlib.util.spec_from_file_location("writer_app_under_test", HANDLER)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    yield module
    sys.modules.pop(spec.name, None)
    container.cache_clear()


def message(message_id: str, body: str) -> dict[str, Any]:
    return {
        "messageId": message_id,
        "receiptHandle": f"rh-{message_id}",
        "body": body,
        "attributes": {"ApproximateReceiveCount": "1", "SentTimestamp": "1700000000000"},
        "messageAttributes": {},
        "md5OfBody": "",
        "eventSource": "aws:sqs",
        "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:readings",
        "awsRegion": "us-east-1",
    }


def body(batch_id: str, series: str, times: range, version: int = 1) -> str:
    records = [
        Record(ORG, SeriesKind.THING, series, t, {"temp": Measure(DataType.Double, t / 10)}, version) for t in times
    ]
    return AcceptedBatch(batch_id, ORG, records).to_bytes().decode()


def item_count(ddb: Any) -> int:
    """Time items (one per reading and version); the rollup items beside them are not rows."""
    return int(
        ddb.scan(
            TableName=TABLE,
            Select="COUNT",
            FilterExpression="begins_with(sk, :t)",
            ExpressionAttributeValues={":t": {"S": "T#"}},
        )["Count"]
    )


@pytest.fixture
def container_left_by_an_earlier_test(aws_env: None, monkeypatch: pytest.MonkeyPatch) -> None:
    """A root built for another table, as a test of an earlier module (or a late thread) leaves it."""
    from telemetry.bootstrap import container

    with monkeypatch.context() as env:
        env.setenv("READINGS_TABLE", "someone-elses-table")
        container.cache_clear()
        container()


def test_the_writer_builds_its_store_from_this_environment(
    container_left_by_an_earlier_test: None, app: ModuleType, ddb: Any
) -> None:
    event = {"Records": [message("m1", body("b1", "s1", range(3)))]}
    assert app.lambda_handler(event, FakeContext()) == {"batchItemFailures": []}
    assert ddb.scan(TableName=TABLE)["Count"] > 0


def test_a_poison_message_is_the_only_batch_item_failure(app: ModuleType, ddb: Any) -> None:
    # Given two good messages around a poison one
    event = {
        "Records": [
            message("m1", body("b1", "s1", range(0, 30))),
            message("m2", '{"v": 1, "id": "b2", "org": "org_a", "groups": [{"k": "no-such-kind"}]}'),
            message("m3", body("b3", "s2", range(0, 5))),
        ]
    }
    # When the writer handles the event
    result = app.lambda_handler(event, FakeContext())
    # Then only the poison message is reported, so SQS redelivers it (and later moves it to the DLQ)
    assert result == {"batchItemFailures": [{"itemIdentifier": "m2"}]}
    # and both good batches are stored: 35 time items
    assert item_count(ddb) == 35


def test_the_same_message_delivered_twice_adds_no_rows(app: ModuleType, ddb: Any) -> None:
    event = {"Records": [message("m1", body("b1", "s1", range(100)))]}

    assert app.lambda_handler(event, FakeContext()) == {"batchItemFailures": []}
    before = item_count(ddb)
    assert app.lambda_handler(event, FakeContext()) == {"batchItemFailures": []}

    assert before == item_count(ddb) == 100


def test_store_outage_fails_every_message_for_redelivery(app: ModuleType, ddb: Any) -> None:
    ddb.delete_table(TableName=TABLE)
    event = {"Records": [message("m1", body("b1", "s1", range(3))), message("m2", body("b2", "s1", range(3)))]}
    # every record is reported failed, so SQS redelivers each (and none is deleted)
    result = app.lambda_handler(event, FakeContext())
    assert result == {"batchItemFailures": [{"itemIdentifier": "m1"}, {"itemIdentifier": "m2"}]}


def test_store_is_chosen_by_environment() -> None:
    from telemetry.adapters.readings_dynamodb import DynamoDbReadingStore
    from telemetry.adapters.readings_factory import reading_store
    from telemetry.adapters.readings_timestream import TimestreamReadingStore
    from telemetry.settings import Settings

    def store_for(env: dict[str, str]) -> object:
        return reading_store(Settings.from_env(env))

    assert isinstance(store_for({"READINGS_TABLE": "t"}), DynamoDbReadingStore)
    timestream = store_for({"READING_STORE": "timestream", "TIMESTREAM_DATABASE": "db1", "TIMESTREAM_TABLE": "tbl"})
    assert isinstance(timestream, TimestreamReadingStore) and timestream.max_batch_size == 100
    for env in ({}, {"READING_STORE": "timestream", "TIMESTREAM_DATABASE": "db1"}, {"READING_STORE": "s3"}):
        with pytest.raises(ValueError):
            store_for(env)


def test_two_messages_with_different_metrics_for_one_instant_keep_both(app: ModuleType, ddb: Any) -> None:
    """Issue 8.7 through the real writer: the state of charge, then the temperature, for the same instant."""
    from telemetry.adapters.readings_dynamodb import DynamoDbReadingStore

    def one(batch_id: str, version: int, **values: float) -> str:
        measures = {name: Measure(DataType.Double, value) for name, value in values.items()}
        return (
            AcceptedBatch(batch_id, ORG, [Record(ORG, SeriesKind.THING, "s1", 5000, measures, version)])
            .to_bytes()
            .decode()
        )

    soc, temp = one("b1", 10, soc=80.0), one("b2", 11, temp=21.5)
    # delivered out of order, the older one twice
    event = {"Records": [message("m2", temp), message("m1", soc), message("m1b", soc)]}
    assert app.lambda_handler(event, FakeContext()) == {"batchItemFailures": []}

    store = DynamoDbReadingStore(TABLE, client=ddb)
    latest = store.latest(ORG, SeriesKind.THING, "s1")
    assert latest is not None
    assert {n: m.value for n, m in latest.measures.items()} == {"soc": 80.0, "temp": 21.5}
    rows, _ = store.history(ORG, SeriesKind.THING, "s1", 0, 10_000)
    assert [{n: m.value for n, m in r.measures.items()} for r in rows] == [{"soc": 80.0, "temp": 21.5}]
    assert item_count(ddb) == 2  # one item per accepted batch; the redelivery rewrote its own


def test_one_invocation_summarizes_a_dense_minute_once_not_once_per_message(app: ModuleType, ddb: Any) -> None:
    """A dense minute (many messages into one minute) must not be re-read per message.

    Each rollup recompute reads every raw item of its minute, so per message it made the writer
    O(n^2) in the minute's readings (6,000 readings 1 ms apart took 35 s against a 30 s timeout).
    One invocation now recomputes the touched buckets once, after all its messages are stored.
    """
    from telemetry.adapters.readings_dynamodb import DynamoDbReadingStore
    from telemetry.bootstrap import container
    from telemetry.models.types import Aggregation

    queries: list[str] = []
    container().readings.client.meta.events.register(
        "before-call.dynamodb.Query", lambda **kwargs: queries.append(kwargs["model"].name)
    )
    # Given the cost of one message's rollups
    assert app.lambda_handler({"Records": [message("m0", body("b0", "s0", range(0, 10)))]}, FakeContext()) == {
        "batchItemFailures": []
    }
    one_message = len(queries)
    queries.clear()
    # When ten messages into one minute of another series arrive in one invocation
    event = {"Records": [message(f"m{i}", body(f"b{i}", "s1", range(i * 10, i * 10 + 10))) for i in range(10)]}
    assert app.lambda_handler(event, FakeContext()) == {"batchItemFailures": []}
    # Then the invocation's rollups cost what one message's did
    assert len(queries) == one_message
    # and they answer what the raw items do
    by_rollups = DynamoDbReadingStore(TABLE, client=ddb)
    by_raw = DynamoDbReadingStore(TABLE, client=ddb, rollups=False)
    aggregations = {"temp": Aggregation.Avg}
    for interval in (60_000, 3_600_000, 86_400_000):
        expected = by_raw.aggregate(ORG, SeriesKind.THING, "s1", 0, 86_400_000, interval, aggregations)
        assert by_rollups.aggregate(ORG, SeriesKind.THING, "s1", 0, 86_400_000, interval, aggregations) == expected
        assert expected and expected[0].values["temp"] == sum(t / 10 for t in range(100)) / 100


def test_rollups_that_fail_after_the_messages_were_stored_redeliver_those_messages(app: ModuleType, ddb: Any) -> None:
    """The rollup step runs after every message is stored; if it fails, the stored messages go back.

    The fault (DynamoDB refusing the rollup's Query after the raw BatchWriteItem calls went through)
    cannot be caused in moto, so a botocore hook raises it: the only injected part of this test.
    """
    from botocore.exceptions import ClientError
    from telemetry.adapters.readings_dynamodb import DynamoDbReadingStore
    from telemetry.bootstrap import container
    from telemetry.models.types import Aggregation

    def throttled(**kwargs: Any) -> None:
        raise ClientError({"Error": {"Code": "ProvisionedThroughputExceededException"}}, "Query")

    events = container().readings.client.meta.events
    events.register("before-call.dynamodb.Query", throttled, unique_id="throttle-rollups")
    event = {
        "Records": [
            message("m1", body("b1", "s1", range(0, 30))),
            message("m2", '{"v": 1, "id": "b2", "org": "org_a", "groups": [{"k": "no-such-kind"}]}'),
            message("m3", body("b3", "s1", range(30, 60))),
        ]
    }
    # When the rollups fail after m1 and m3 were stored
    result = app.lambda_handler(event, FakeContext())
    # Then the poison message and both stored messages are redelivered
    assert sorted(f["itemIdentifier"] for f in result["batchItemFailures"]) == ["m1", "m2", "m3"]
    assert item_count(ddb) == 60
    # And when the stored ones come back with DynamoDB healthy, nothing is stored twice and the rollups are right
    events.unregister("before-call.dynamodb.Query", unique_id="throttle-rollups")
    redelivery = {"Records": [event["Records"][0], event["Records"][2]]}
    assert app.lambda_handler(redelivery, FakeContext()) == {"batchItemFailures": []}
    assert item_count(ddb) == 60
    by_rollups, by_raw = DynamoDbReadingStore(TABLE, client=ddb), DynamoDbReadingStore(TABLE, client=ddb, rollups=False)
    args = (ORG, SeriesKind.THING, "s1", 0, 86_400_000, 3_600_000, {"temp": Aggregation.Count})
    assert by_rollups.aggregate(*args) == by_raw.aggregate(*args) != []


def test_an_event_that_is_not_an_sqs_batch_fails_the_invocation(app: ModuleType) -> None:
    # nothing to report record by record: the invocation fails, as powertools' batch utility made it
    with pytest.raises(ValueError, match="no Records list"):
        app.lambda_handler({"detail-type": "Scheduled Event"}, FakeContext())
