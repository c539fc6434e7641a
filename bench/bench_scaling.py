"""Aggregates at scale on the DynamoDB adapter under moto (issue 11.5): items read and Query calls
per request, raw path vs rollups, and the rollups' write amplification.

    .venv/bin/python bench/bench_scaling.py [--sizes 10000,100000,1000000]

* **Reads.** One thing with one reading per minute (two metrics), aggregated over its whole
  range by 1 d and by 1 h, with the range starting 90 s after a minute boundary so every grain
  and the raw edge are exercised. The rollup path is the adapter's ``aggregate`` with its calls
  counted by botocore ``after-call`` hooks (Query calls, items read = ``ScannedCount``), measured
  at every size, 10^6 included. Every rollup answer is checked against ``compute_aggregates``
  over the generated rows.
* **The raw path** (``rollups=False``) reads every item of the range. It is run for real at the
  smallest size (1 d), replayed as the same Query with ``Select=COUNT`` at the sizes up to
  ``--replay-max`` (moto pages it at 1 MB of items exactly like the real one, without serializing
  10^5+ items through HTTP), and above that **computed from a counted model**: the raw items of
  the range, paged the way moto pages them (a page ends before the item that would take it over
  1,000,000 bytes of moto's item sizes). The model is checked against the replay at every size
  both are run at, so the 10^6 raw figures are a model that matched the measurement below it.
* **Seeding** writes the raw items and the rollup items the adapter itself builds
  (``_rollup_item`` over ``summarize``) straight into moto's backend, one table per size, in key
  order: moto's Query filters the whole table and sorts the partition on every call, so a
  partition inserted in key order sorts in linear time. The write path through HTTP costs ~3 ms
  per item on moto (hours at 10^6); the write path is measured separately (below).
* **Write amplification** (extra write units per reading: rollup items written, by their size in
  1 KB units, over readings) is measured through the real write path: one message of 1,000
  one-minute readings, and 60 messages of one reading each (the streaming worst case).

Writes ``docs/img/aggregates-scaling.png`` (matplotlib): items read per request vs readings.
``SCALING_SIZES=10000`` for a quick run.
"""

from __future__ import annotations

import argparse
import math
import os
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

import boto3
import orjson
from moto import mock_aws
from moto.core import DEFAULT_ACCOUNT_ID
from moto.dynamodb.models import dynamodb_backends
from moto.dynamodb.models.dynamo_type import DynamoType, Item, LimitedSizeDict
from moto.dynamodb.models.table import RESULT_SIZE_LIMIT
from telemetry.adapters.reading_rules import (
    DAY_MS,
    HOUR_MS,
    MINUTE_MS,
    Buckets,
    compute_aggregates,
    fold_into,
    summarize,
)
from telemetry.adapters.readings_dynamodb import (
    DynamoDbReadingStore,
    _attributes,
    fingerprint,
    item_size,
    series_pk,
    time_sk,
)
from telemetry.models.metrics import Aggregation, DataType
from telemetry.models.readings import Measure, Record, SeriesKind

sys.path.insert(0, str(Path(__file__).parent))
from _harness import Bench

ROOT = Path(__file__).resolve().parents[1]
CHART = ROOT / "docs" / "img" / "aggregates-scaling.png"
TABLE, ORG, KIND = "readings", "org_bench", SeriesKind.THING
T0 = 1_700_006_400_000  # a day boundary (2023-11-15T00:00Z)
AGGS = {"temp": Aggregation.Avg, "state": Aggregation.Max}


def reading(series: str, i: int) -> Record:
    return Record(
        ORG,
        KIND,
        series,
        T0 + i * MINUTE_MS,
        {"temp": Measure(DataType.Double, 20 + (i % 997) / 10), "state": Measure(DataType.Int, i % 3)},
        1_700_000_000_000_000,
    )


def create_table(client: Any, name: str = TABLE) -> None:
    sys.path.insert(0, str(ROOT))
    from tests.integration.conftest import create_table_from_template

    create_table_from_template(client, "ReadingsTable", name)


def seed(store: DynamoDbReadingStore, series: str, n: int) -> list[int]:
    """Raw items and the adapter's own rollup items of ``n`` one-minute readings, into moto's
    backend in key order (days, hours, minutes, then the raw time items: ``D#`` < ``H#`` < ``M#`` <
    ``T#``), built on the fly so only moto's copy is held; returns moto's size of each raw item."""
    table = dynamodb_backends[DEFAULT_ACCOUNT_ID]["us-east-1"].get_table(store.table_name)
    pk = series_pk(ORG, KIND, series)
    hash_key = DynamoType({"S": pk})
    partition = table.items[hash_key]
    leaves: dict[tuple[str, str], DynamoType] = {}

    def put(item: dict[str, Any]) -> Item:
        moto_item = _moto_item(hash_key, item, leaves)
        partition[moto_item.range_key] = moto_item
        return moto_item

    def minute_rollup(record: Record, raw: dict[str, Any]) -> tuple[int, int, Any]:
        minute = record.time - record.time % MINUTE_MS
        summaries = summarize([record], minute, minute + MINUTE_MS, MINUTE_MS)[minute]
        seen, _ = fingerprint([raw])
        return minute, seen, summaries

    def raw_item(record: Record) -> dict[str, Any]:
        return {"pk": {"S": pk}, "sk": {"S": time_sk(record.time, record.version)}, **_attributes(record)}

    hours: Buckets = {}
    seen_hours: Counter[int] = Counter()
    for i in range(n):  # pass 1: the coarse grains
        record = reading(series, i)
        minute, seen, summaries = minute_rollup(record, raw_item(record))
        fold_into(hours, minute - minute % HOUR_MS, summaries)
        seen_hours[minute - minute % HOUR_MS] += seen
    days: Buckets = {}
    seen_days: Counter[int] = Counter()
    for hour, summaries in hours.items():
        fold_into(days, hour - hour % DAY_MS, summaries)
        seen_days[hour - hour % DAY_MS] += seen_hours[hour]
    for day, summaries in sorted(days.items()):
        put(store._rollup_item(pk, DAY_MS, day, seen_days[day], summaries))
    for hour, summaries in sorted(hours.items()):
        put(store._rollup_item(pk, HOUR_MS, hour, seen_hours[hour], summaries))
    del hours, days
    for i in range(n):  # pass 2: the minutes (one reading each)
        record = reading(series, i)
        minute, seen, summaries = minute_rollup(record, raw_item(record))
        put(store._rollup_item(pk, MINUTE_MS, minute, seen, summaries))
    raw_sizes = []
    for i in range(n):  # pass 3: the raw time items
        raw_sizes.append(put(raw_item(reading(series, i))).size())
    keys = [k.value for k in partition]
    assert keys == sorted(keys), "the partition must be in key order"
    return raw_sizes


def _moto_item(hash_key: DynamoType, attrs: dict[str, Any], leaves: dict[tuple[str, str], DynamoType]) -> Item:
    """moto's ``Item(hash_key, range_key, attrs)`` without its per-attribute size re-check (the
    adapter's items are far below 400 KB; the check re-sizes the whole item on every attribute,
    two thirds of seeding) and sharing equal scalar values between items (moto never mutates a
    stored value: reads copy it out through ``to_json``).

    Its size is computed once, by moto, and answered by the item from then on: moto's Query sizes
    every item it walks, inside the key range or not, on every page (``Item.size`` rebuilds the
    nested values each time), which at 10^6 readings is minutes per Query. A seeded item is never
    written again, so its size cannot change."""
    item: Any = Item.__new__(Item)
    item.hash_key = hash_key
    item.range_key = _dynamo(attrs["sk"], leaves)
    item.attrs = LimitedSizeDict({name: _dynamo(value, leaves) for name, value in attrs.items()})
    item.size = Item.size(item).__index__  # the int itself, as a method of the instance
    return item


def _dynamo(value: dict[str, Any], leaves: dict[tuple[str, str], DynamoType]) -> DynamoType:
    """``DynamoType(value)``, built the same way (maps and lists recursively)."""
    ((kind, inner),) = value.items()
    if kind == "M":
        small = len(inner) <= 3  # a measure or a type-and-value map: repeated across items, shared
        key = ("M", orjson.dumps(inner, option=orjson.OPT_SORT_KEYS).decode()) if small else None
        if key is not None and (shared := leaves.get(key)) is not None:
            return shared
        out: Any = DynamoType.__new__(DynamoType)
        out.type, out.value = kind, {k: _dynamo(v, leaves) for k, v in inner.items()}
        if key is not None and len(leaves) < 200_000:
            leaves[key] = out
        return out
    if kind == "L":
        out: Any = DynamoType.__new__(DynamoType)
        out.type, out.value = kind, [_dynamo(v, leaves) for v in inner]
        return out
    key = (kind, inner) if isinstance(inner, str) else None
    if key is not None and (shared := leaves.get(key)) is not None:
        return shared
    out = DynamoType(value)
    if key is not None and len(leaves) < 200_000:
        leaves[key] = out
    return out


def raw_model(raw_sizes: list[int], first: int) -> tuple[int, int]:
    """(Query calls, items read) of the raw path over the raw items from index ``first`` on:
    pages end before the item that would take a page over moto's 1 MB (``RESULT_SIZE_LIMIT``)."""
    calls, size, items = 1, 0, 0
    for one in raw_sizes[first:]:
        if size + one > RESULT_SIZE_LIMIT:
            calls, size = calls + 1, 0
        size += one
        items += 1
    return calls, items


def table_items(name: str) -> list[Any]:
    return list(dynamodb_backends[DEFAULT_ACCOUNT_ID]["us-east-1"].get_table(name).all_items())


class Reads:
    """Query calls and items read (ScannedCount), from botocore after-call hooks."""

    def __init__(self, client: Any) -> None:
        self.calls = 0
        self.items = 0
        client.meta.events.register("after-call.dynamodb.Query", self._count)

    def _count(self, parsed: dict[str, Any], **_: Any) -> None:
        self.calls += 1
        self.items += int(parsed.get("ScannedCount", 0))

    def reset(self) -> None:
        self.calls = self.items = 0


def raw_replay(client: Any, table: str, series: str, start: int, end: int) -> tuple[int, int]:
    """The raw path's Query (``DynamoDbReadingStore._items``) with Select=COUNT: (calls, items read)."""
    kwargs: dict[str, Any] = {
        "TableName": table,
        "KeyConditionExpression": "pk = :pk AND sk BETWEEN :lo AND :hi",
        "ExpressionAttributeValues": {
            ":pk": {"S": series_pk(ORG, KIND, series)},
            ":lo": {"S": f"T#{start:015d}#"},
            ":hi": {"S": f"T#{end - 1:015d}#~"},
        },
        "Select": "COUNT",
    }
    calls = items = 0
    while True:
        page = client.query(**kwargs)
        calls += 1
        items += page["ScannedCount"]
        if "LastEvaluatedKey" not in page:
            return calls, items
        kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]


def scaling(bench: Bench, sizes: list[int], replay_max: int) -> list[dict[str, Any]]:
    points: list[dict[str, Any]] = []
    client = boto3.client("dynamodb", region_name="us-east-1")
    reads = Reads(client)
    for n in sizes:
        name, series = f"{TABLE}-{n}", f"thing-{n}"
        create_table(client, name)
        store = DynamoDbReadingStore(name, client=client)
        raw_store = DynamoDbReadingStore(name, client=client, rollups=False)
        started = time.perf_counter()
        raw_sizes = seed(store, series, n)
        seeded = time.perf_counter() - started
        print(f"  seeded {n:,} readings ({len(table_items(name)):,} items) into moto in {seeded:.0f} s")
        start, end = T0 + 90_000, T0 + n * MINUTE_MS  # 90 s past a day boundary: every grain and a raw edge
        first = 2  # the first raw item at or after ``start`` (readings at T0 and T0 + 1 min are before it)
        for label, interval in (("1 d", DAY_MS), ("1 h", HOUR_MS)):
            reads.reset()
            queried = time.perf_counter()
            rows = store.aggregate(ORG, KIND, series, start, end, interval, AGGS)
            rollup = (reads.calls, reads.items)
            took = time.perf_counter() - queried
            assert rows == compute_aggregates((reading(series, i) for i in range(n)), start, end, interval, AGGS), (
                "rollups disagree with raw rows"
            )
            model = raw_model(raw_sizes, first)
            if n == sizes[0] and interval == DAY_MS:  # the raw path for real once (1 h reads the same items)
                reads.reset()
                raw_rows = raw_store.aggregate(ORG, KIND, series, start, end, interval, AGGS)
                assert raw_rows == rows
                raw = (reads.calls, reads.items)
                reads.reset()
                assert raw_replay(client, name, series, start, end) == raw, "the COUNT replay must match the raw path"
                how = "run"
            elif n <= replay_max:
                reads.reset()
                raw = raw_replay(client, name, series, start, end)
                how = "replayed"
            else:
                raw, how = model, "model"
            assert model == raw or how == "model", f"the raw-path model {model} disagrees with the {how} path {raw}"
            intervals = len(rows)
            points.append(
                {
                    "readings": n,
                    "interval": label,
                    "rows": intervals,
                    "rollup": rollup,
                    "raw": raw,
                    "raw_how": how,
                    "seed_s": seeded,
                    "query_s": took,
                }
            )
            bench.figure(
                f"{n:,} readings by {label}: items read, rollups",
                rollup[1],
                "items",
                at_most=intervals + 2 * (24 + 60) + 2,
                detail=f"{rollup[0]} Query calls for {intervals} rows; raw path ({how}) {raw[1]:,} items in {raw[0]} "
                f"Query calls = {raw[1] / max(rollup[1], 1):,.0f}x the items, {raw[0] / max(rollup[0], 1):,.1f}x the calls",
            )
            # at most 7 segments (raw edge, minutes, hours each side, days), plus a page per ~2,000 rollup items
            bench.figure(
                f"{n:,} readings by {label}: Query calls, rollups", rollup[0], "calls", at_most=7 + rollup[1] // 2000
            )
        del raw_sizes
        client.delete_table(TableName=name)  # frees moto's copy before the next size
    return points


def write_amplification(bench: Bench) -> None:
    client = boto3.client("dynamodb", region_name="us-east-1")
    create_table(client)
    store = DynamoDbReadingStore(TABLE, client=client)
    units: Counter[str] = Counter()
    reads = Reads(client)

    def count(params: dict[str, Any], model: Any, **_: Any) -> None:
        if model.name == "BatchWriteItem":
            for request in params["RequestItems"][TABLE]:
                if "PutRequest" in request:
                    item = request["PutRequest"]["Item"]
                    kind = "raw" if item["sk"]["S"].startswith("T#") else "rollup"
                    units[kind] += math.ceil(item_size(item) / 1024)
                else:
                    units["rollup"] += 1  # a delete of a superseded minute item: one write unit
        elif model.name == "PutItem":
            units["rollup"] += math.ceil(item_size(params["Item"]) / 1024)  # a failed condition costs the same

    client.meta.events.register("provide-client-params.dynamodb.*", count)
    store.write([reading("batch", i) for i in range(1000)])
    bench.figure(
        "write amplification, one message of 1,000 one-minute readings",
        units["rollup"] / 1000,
        "extra write units per reading",
        at_most=1.1,
        detail=f"raw {units['raw'] / 1000:.2f} WU per reading; {reads.items / 1000:.2f} items read back per reading",
    )
    units.clear()
    reads.reset()
    for i in range(60):
        store.write([reading("stream", i)])
    bench.figure(
        "write amplification, 60 messages of one reading each (streaming)",
        units["rollup"] / 60,
        "extra write units per reading",
        at_most=3,
        detail=f"raw {units['raw'] / 60:.2f} WU per reading; {reads.items / 60:.1f} items read back per reading",
    )


def chart(points: list[dict[str, Any]]) -> None:
    """A log-log PNG of items read per request vs readings: raw path and rollups, 1 d and 1 h."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7.5, 4.6), dpi=110)
    raw = sorted((p["readings"], p["raw"][1], p["raw_how"]) for p in points if p["interval"] == "1 d")
    ax.plot([r[0] for r in raw], [r[1] for r in raw], "-", color="#c0392b", lw=2, label="raw path (1 d and 1 h)")
    for how, marker in (("run", "o"), ("replayed", "o"), ("model", "^")):
        pts = [r for r in raw if r[2] == how]
        if pts:
            label = "raw path, counted model (not run)" if how == "model" else None
            face = "white" if how == "model" else "#c0392b"
            ax.plot([r[0] for r in pts], [r[1] for r in pts], marker, color="#c0392b", mfc=face, ms=7, label=label)
    for interval, style in (("1 d", "-"), ("1 h", "--")):
        pts = sorted((p["readings"], p["rollup"][1]) for p in points if p["interval"] == interval)
        ax.plot(
            [a for a, _ in pts],
            [b for _, b in pts],
            style,
            marker="o",
            color="#2471a3",
            lw=2,
            label=f"rollups, {interval} (measured)",
        )
        for a, b in pts:
            ax.annotate(
                f"{b:,}",
                (a, b),
                textcoords="offset points",
                xytext=(6, -12 if interval == "1 d" else 6),
                fontsize=8,
                color="#2471a3",
            )
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("one-minute readings in the range (one thing)")
    ax.set_ylabel("items read per /aggregates request")
    ax.set_title("DynamoDB adapter on moto: items read, raw path vs rollups", fontsize=11)
    ax.grid(True, which="major", color="#ddd")
    ax.legend(fontsize=8, loc="upper left")
    fig.tight_layout()
    CHART.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(CHART, metadata={"Software": None})
    plt.close(fig)
    print(f"  chart: {CHART.relative_to(ROOT)}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sizes", default=os.environ.get("SCALING_SIZES", "10000,100000,1000000"))
    parser.add_argument("--replay-max", type=int, default=int(os.environ.get("SCALING_REPLAY_MAX", "100000")))
    args = parser.parse_args()
    sizes = sorted(int(s) for s in args.sizes.split(","))
    os.environ.update(AWS_ACCESS_KEY_ID="bench", AWS_SECRET_ACCESS_KEY="bench", AWS_DEFAULT_REGION="us-east-1")
    os.environ.pop("AWS_ENDPOINT_URL", None)
    bench = Bench("bench_scaling")
    with mock_aws():
        write_amplification(bench)
    with mock_aws():
        points = scaling(bench, sizes, args.replay_max)
    chart(points)
    bench.finish()


if __name__ == "__main__":
    main()
