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


def message(readings: int, series: int, version: int = 1_700_000_000_000_000, other_metric: bool = False) -> str:
    """``other_metric``: the same instants again with a different metric (a per-metric upsert)."""
    records = [
        Record(
            "org_bench",
            SeriesKind.THING,
            f"thing-{i % series}",
            1_700_000_000_000 + i * 1000,
            {"soc": Measure(DataType.Double, 50 + i / 100)}
            if other_metric
            else {"temp": Measure(DataType.Double, 20 + i / 100), "state": Measure(DataType.Int, i % 3)},
            version,
        )
        for i in range(readings)
    ]
    return AcceptedBatch(f"bench-{version}", "org_bench", records).to_bytes().decode()


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
    store = DynamoDbReadingStore("readings", client=ddb)
    body = message(readings, series)
    elapsed = run(store, body)
    batch_target = math.ceil(readings / 25)
    print(f"DynamoDB   {readings} readings, {series} series  ({elapsed * 1000:.0f} ms on moto)")
    print(f"  BatchWriteItem       {calls['BatchWriteItem']:>5}   target ceil(n/25) = {batch_target}")
    print(f"  total store calls    {sum(calls.values()):>5}   target {batch_target} (no latest item to move)")
    calls.clear()
    run(store, body)
    made = sum(calls.values())
    items = ddb.scan(TableName="readings", Select="COUNT")["Count"]
    print(f"  redelivery: {made} calls, items {items} (target {readings}, unchanged)")
    calls.clear()
    run(store, message(readings, series, version=1_700_000_000_000_001, other_metric=True))
    made = sum(calls.values())
    items = ddb.scan(TableName="readings", Select="COUNT")["Count"]
    print(
        f"  another metric for the same {readings} instants: {made} calls"
        f" (target {batch_target}), items {items} (one per reading and version)"
    )
    # read cost of the merge: items DynamoDB reads per row returned
    consumed: list[dict[str, Any]] = []
    ddb.meta.events.register("after-call.dynamodb.Query", lambda parsed, **_: consumed.append(parsed))
    rows, _ = store.history("org_bench", SeriesKind.THING, "thing-0", 0, 2 * 10**12, limit=1000)
    scanned = sum(int(p.get("ScannedCount", 0)) for p in consumed)
    merged = sum(1 for r in rows if {"soc", "temp"} <= set(r.measures))
    print(f"  history of one series: {len(rows)} rows ({merged} merged from 2 versions), {scanned} items read")
    consumed.clear()
    latest = store.latest("org_bench", SeriesKind.THING, "thing-0")
    assert latest is not None and {"soc", "temp", "state"} <= set(latest.measures)
    print(f"  latest: {len(consumed)} Query call(s), {sum(int(p.get('ScannedCount', 0)) for p in consumed)} items read")


def bench_timestream(readings: int, series: int) -> None:
    write = boto3.client("timestream-write", region_name="us-east-1")
    write.create_database(DatabaseName="telemetry")
    write.create_table(DatabaseName="telemetry", TableName="readings")
    calls = counted(write, "timestream-write")
    store = TimestreamReadingStore("telemetry", "readings", write_client=write)
    elapsed = run(store, message(readings, series))
    measures = 2  # temp and state: one Timestream record per metric (per-metric upserts)
    print(f"Timestream {readings} readings x {measures} metrics, {series} series  ({elapsed * 1000:.0f} ms on moto)")
    print(
        f"  WriteRecords         {calls['WriteRecords']:>5}   target ceil(n*m/100) = {math.ceil(readings * measures / 100)}"
    )


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
