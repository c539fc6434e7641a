"""Store calls per 1000 readings written through the writer, on moto, next to their targets.

Run: ``.venv/bin/python bench/bench_writer.py [readings] [series]``. Not a test: it prints figures
(through the shared harness: exit 1 on a miss). Calls are counted with botocore
``provide-client-params`` event hooks, i.e. real SDK calls (retries of a throttled call would
not show on moto), and split into the raw items' calls and the rollups' (issue 11.4).
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
from telemetry.adapters.reading_rules import DAY_MS, HOUR_MS, MINUTE_MS
from telemetry.adapters.readings_dynamodb import DynamoDbReadingStore
from telemetry.adapters.readings_timestream import TimestreamReadingStore
from telemetry.models.metrics import DataType
from telemetry.models.readings import AcceptedBatch, Measure, Record, SeriesKind
from telemetry.ports.readings import ReadingStore
from telemetry.services.writer import InvocationWriter, parse_message, write_batch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _harness import Bench


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
    """Calls by operation; BatchWriteItem split into ``BatchWriteItem`` (time items) and ``rollup BatchWriteItem``."""
    calls: Counter[str] = Counter()

    def count(model: Any, params: dict[str, Any], **_: Any) -> None:
        name = model.name
        if name == "BatchWriteItem":
            requests = next(iter(params["RequestItems"].values()))
            key = (requests[0].get("PutRequest", {}).get("Item") or requests[0]["DeleteRequest"]["Key"])["sk"]["S"]
            name = name if key.startswith("T#") else "rollup BatchWriteItem"
        calls.update([name])

    client.meta.events.register(f"provide-client-params.{service}.*", count)
    return calls


def rollup_target(readings: int, series: int) -> int:
    """Rollup calls of one message: minute items in batches of 25; per series 3 Queries (raw items,
    minutes, hours; one span each here) and one conditional PutItem per touched hour and day."""
    times = [(1_700_000_000_000 + i * 1000, i % series) for i in range(readings)]
    minutes = {(s, t // MINUTE_MS) for t, s in times}
    hours = {(s, t // HOUR_MS) for t, s in times}
    days = {(s, t // DAY_MS) for t, s in times}
    return math.ceil(len(minutes) / 25) + 3 * series + len(hours) + len(days)


def run(store: ReadingStore, body: str) -> float:
    started = time.perf_counter()
    outcome = write_batch(store, parse_message(body))
    assert not outcome.dead_lettered, outcome.dead_letter_details()[:3]
    return time.perf_counter() - started


def readings_table(name: str) -> Any:
    """A DynamoDB client on moto with the readings table's key schema created as ``name``."""
    ddb = boto3.client("dynamodb", region_name="us-east-1")
    ddb.create_table(
        TableName=name,
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
        AttributeDefinitions=[
            {"AttributeName": "pk", "AttributeType": "S"},
            {"AttributeName": "sk", "AttributeType": "S"},
        ],
        BillingMode="PAY_PER_REQUEST",
    )
    return ddb


def bench_dynamodb(bench: Bench, readings: int, series: int) -> None:
    ddb = readings_table("readings")
    calls = counted(ddb, "dynamodb")
    store = DynamoDbReadingStore("readings", client=ddb)
    body = message(readings, series)
    elapsed = run(store, body)
    batch_target = math.ceil(readings / 25)
    rollups = rollup_target(readings, series)
    shape = f"{readings} readings, {series} series"
    bench.figure(
        f"DynamoDB BatchWriteItem for the time items, {shape}", calls["BatchWriteItem"], "calls", at_most=batch_target
    )
    bench.figure(
        f"DynamoDB rollup calls, {shape}",
        sum(calls.values()) - calls["BatchWriteItem"],
        "calls",
        at_most=rollups,
        detail=f"{dict(calls)}; {elapsed * 1000:.0f} ms on moto",
    )
    calls.clear()
    run(store, body)
    time_items = ddb.scan(
        TableName="readings",
        Select="COUNT",
        FilterExpression="begins_with(sk, :t)",
        ExpressionAttributeValues={":t": {"S": "T#"}},
    )["Count"]
    bench.figure(
        "redelivery: time items in the table",
        time_items,
        "items",
        at_most=readings,
        detail=f"{sum(calls.values())} calls",
    )
    calls.clear()
    run(store, message(readings, series, version=1_700_000_000_000_001, other_metric=True))
    bench.figure(
        f"another metric for the same {readings} instants: BatchWriteItem for the time items",
        calls["BatchWriteItem"],
        "calls",
        at_most=batch_target,
        detail=f"{sum(calls.values())} calls in all",
    )
    # read cost of the merge: items DynamoDB reads per row returned
    consumed: list[dict[str, Any]] = []
    ddb.meta.events.register("after-call.dynamodb.Query", lambda parsed, **_: consumed.append(parsed))
    rows, _ = store.history("org_bench", SeriesKind.THING, "thing-0", 0, 2 * 10**12, limit=1000)
    scanned = sum(int(p.get("ScannedCount", 0)) for p in consumed)
    merged = sum(1 for r in rows if {"soc", "temp"} <= set(r.measures))
    bench.figure(
        "history of one series: items read per row (two versions per time)",
        scanned / max(len(rows), 1),
        "items",
        at_most=2,
        detail=f"{len(rows)} rows, {merged} merged from 2 versions",
    )
    consumed.clear()
    latest = store.latest("org_bench", SeriesKind.THING, "thing-0")
    assert latest is not None and {"soc", "temp", "state"} <= set(latest.measures)
    bench.figure(
        "latest: Query calls",
        len(consumed),
        "calls",
        at_most=1,
        detail=f"{sum(int(p.get('ScannedCount', 0)) for p in consumed)} items read",
    )


def bench_dense_minute(bench: Bench, messages: int = 10, per_message: int = 100) -> None:
    """One invocation of ``messages`` messages whose readings (1 ms apart) all fall in one minute.

    A minute's rollup is recomputed from every raw item of the minute, so refreshing it per message
    read 1 + 2 + ... + ``messages`` times the message's items (O(n^2) in the minute's readings);
    the writer refreshes once per invocation, after every message is stored: one read of the minute.
    """
    ddb = readings_table("dense")
    scanned: list[int] = []
    ddb.meta.events.register(
        "after-call.dynamodb.Query", lambda parsed, **_: scanned.append(int(parsed.get("ScannedCount", 0)))
    )
    writer = InvocationWriter(DynamoDbReadingStore("dense", client=ddb))
    start = 1_700_000_040_000 - 1_700_000_040_000 % MINUTE_MS
    for m in range(messages):
        records = [
            Record(
                "org_bench", SeriesKind.THING, "dense", start + m * per_message + i, {"v": Measure(DataType.Int, i)}, 1
            )
            for i in range(per_message)
        ]
        body = AcceptedBatch(f"dense-{m}", "org_bench", records).to_bytes().decode()
        assert not writer.write(f"m{m}", body).dead_lettered
    assert writer.finish() == []
    total = messages * per_message
    bench.figure(
        f"a dense minute, {messages} messages x {per_message} readings in one invocation: items the rollups read",
        sum(scanned),
        "items",
        at_most=total + 2,  # the minute's raw items once, its minute item (hour step), its hour item (day step)
        detail=f"{len(scanned)} Query calls; per message it would be {total * (messages + 1) // 2} raw items",
    )


def bench_timestream(bench: Bench, readings: int, series: int) -> None:
    write = boto3.client("timestream-write", region_name="us-east-1")
    write.create_database(DatabaseName="telemetry")
    write.create_table(DatabaseName="telemetry", TableName="readings")
    calls = counted(write, "timestream-write")
    store = TimestreamReadingStore("telemetry", "readings", write_client=write)
    elapsed = run(store, message(readings, series))
    measures = 2  # temp and state: one Timestream record per metric (per-metric upserts)
    bench.figure(
        f"Timestream WriteRecords, {readings} readings x {measures} metrics",
        calls["WriteRecords"],
        "calls",
        at_most=math.ceil(readings * measures / 100),
        detail=f"one record per metric; {elapsed * 1000:.0f} ms on moto",
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
    bench = Bench("bench_writer")
    with mock_aws():
        bench_dynamodb(bench, readings, series)
    with mock_aws():
        bench_dense_minute(bench)
    with mock_aws():
        bench_timestream(bench, readings, series)
    bench.finish()


if __name__ == "__main__":
    main()
