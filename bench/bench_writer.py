"""Store calls per 1000 readings written through the writer, on moto, next to their targets.

Run: ``.venv/bin/python bench/bench_writer.py [readings] [series]``. Not a test: it prints figures.
Calls are counted with botocore ``before-call`` event hooks, i.e. real SDK calls (retries of a
throttled call would not show on moto).
"""

from __future__ import annotations

import math
import os
import sys
import time
from collections import Counter
from typing import Any

import boto3
from moto import mock_aws
from telemetry.adapters.readings_dynamodb import DynamoDbReadingStore
from telemetry.adapters.readings_timestream import TimestreamReadingStore
from telemetry.models.metrics import DataType
from telemetry.models.readings import AcceptedBatch, Measure, Record, SeriesKind
from telemetry.ports.readings import ReadingStore
from telemetry.services.writer import process_sqs_record


def message(readings: int, series: int) -> str:
    records = [
        Record(
            "org_bench",
            SeriesKind.THING,
            f"thing-{i % series}",
            1_700_000_000_000 + i * 1000,
            {"temp": Measure(DataType.Double, 20 + i / 100), "state": Measure(DataType.Int, i % 3)},
            1_700_000_000_000_000,
        )
        for i in range(readings)
    ]
    return AcceptedBatch("bench-1", "org_bench", records).to_bytes().decode()


def counted(client: Any, service: str) -> Counter[str]:
    calls: Counter[str] = Counter()
    client.meta.events.register(f"before-call.{service}.*", lambda model, **_: calls.update([model.name]))
    return calls


def run(store: ReadingStore, body: str) -> float:
    started = time.perf_counter()
    outcome = process_sqs_record(store, body)
    assert not outcome.dead_lettered, outcome.dead_letter_details()[:3]
    return time.perf_counter() - started


def bench_dynamodb(readings: int, series: int) -> None:
    ddb = boto3.client("dynamodb", region_name="us-east-1")
    ddb.create_table(
        TableName="readings",
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
        AttributeDefinitions=[
            {"AttributeName": "pk", "AttributeType": "S"},
            {"AttributeName": "sk", "AttributeType": "S"},
        ],
        BillingMode="PAY_PER_REQUEST",
    )
    calls = counted(ddb, "dynamodb")
    body = message(readings, series)
    elapsed = run(DynamoDbReadingStore("readings", client=ddb), body)
    batch_target = math.ceil(readings / 25)
    print(f"DynamoDB   {readings} readings, {series} series  ({elapsed * 1000:.0f} ms on moto)")
    print(f"  BatchWriteItem       {calls['BatchWriteItem']:>5}   target ceil(n/25) = {batch_target}")
    print(f"  PutItem (latest)     {calls['PutItem']:>5}   target 1 per series = {series}")
    print(f"  total store calls    {sum(calls.values()):>5}   target {batch_target + series}")
    calls.clear()
    run(DynamoDbReadingStore("readings", client=ddb), body)
    print(
        f"  redelivery: {sum(calls.values())} calls, items {ddb.scan(TableName='readings', Select='COUNT')['Count']}"
        f" (target {readings} + {series} latest, unchanged)"
    )


def bench_timestream(readings: int, series: int) -> None:
    write = boto3.client("timestream-write", region_name="us-east-1")
    write.create_database(DatabaseName="telemetry")
    write.create_table(DatabaseName="telemetry", TableName="readings")
    calls = counted(write, "timestream-write")
    elapsed = run(TimestreamReadingStore("telemetry", "readings", write_client=write), message(readings, series))
    print(f"Timestream {readings} readings, {series} series  ({elapsed * 1000:.0f} ms on moto)")
    print(f"  WriteRecords         {calls['WriteRecords']:>5}   target ceil(n/100) = {math.ceil(readings / 100)}")


def main() -> None:
    readings = int(sys.argv[1]) if len(sys.argv) > 1 else 1000
    series = int(sys.argv[2]) if len(sys.argv) > 2 else 10
    for name, value in {
        "AWS_ACCESS_KEY_ID": "bench",
        "AWS_SECRET_ACCESS_KEY": "bench",
        "AWS_SESSION_TOKEN": "bench",
        "AWS_DEFAULT_REGION": "us-east-1",
    }.items():
        os.environ[name] = value
    os.environ.pop("AWS_ENDPOINT_URL", None)
    with mock_aws():
        bench_dynamodb(readings, series)
    with mock_aws():
        bench_timestream(readings, series)


if __name__ == "__main__":
    main()
