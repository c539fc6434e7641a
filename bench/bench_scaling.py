"""Aggregates at scale on the DynamoDB adapter under moto (issue 11.5): items read and Query calls
per request, raw path vs rollups, and the rollups' write amplification.

    .venv/bin/python bench/bench_scaling.py [--sizes 10000,100000]

* **Reads.** One thing with one reading per minute (two metrics), aggregated over its whole
  range by 1 d and by 1 h, with the range starting 90 s after a minute boundary so every grain
  and the raw edge are exercised. The rollup path is the adapter's ``aggregate`` with its calls
  counted by botocore ``after-call`` hooks (Query calls, items read = ``ScannedCount``). The raw
  path (``rollups=False``) reads every item of the range; it is run for real at the smallest
  size (1 d), and otherwise replayed as the same Query with ``Select=COUNT`` (moto pages it
  at 1 MB of items exactly like the real one, without serializing 10^5+ items through HTTP); the
  replay is checked against the real raw path at the smallest size. Every rollup answer is
  checked against ``compute_aggregates`` over the generated rows.
* **Seeding** of the larger tables writes the raw items and the rollup items the adapter itself
  builds (``_rollup_item`` over ``summarize``) straight into moto's backend: the write path
  through HTTP costs ~3 ms per item on moto, hours at 10^5.
* **Write amplification** (extra write units per reading: rollup items written, by their size in
  1 KB units, over readings) is measured through the real write path: one message of 1,000
  one-minute readings, and 60 messages of one reading each (the streaming worst case).

Duration on moto: ~4 min at 10^4, ~12 min more at 10^5 (moto sorts and walks the whole partition
on every Query page); 10^6 would take hours on moto and is not run by default
(``SCALING_SIZES=10000`` for a quick run).

Writes ``docs/img/aggregates-scaling.svg`` (matplotlib is not installed: an SVG by hand).
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
from moto import mock_aws
from moto.core import DEFAULT_ACCOUNT_ID
from moto.dynamodb.models import dynamodb_backends
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
CHART = ROOT / "docs" / "img" / "aggregates-scaling.svg"
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


def create_table(client: Any) -> None:
    sys.path.insert(0, str(ROOT))
    from tests.integration.conftest import create_table_from_template

    create_table_from_template(client, "ReadingsTable", TABLE)


def seed(store: DynamoDbReadingStore, series: str, n: int) -> list[Record]:
    """Raw items and the adapter's own rollup items of ``n`` one-minute readings, into moto's backend."""
    backend = dynamodb_backends[DEFAULT_ACCOUNT_ID]["us-east-1"]
    records = [reading(series, i) for i in range(n)]
    pk = series_pk(ORG, KIND, series)
    hours: Buckets = {}
    seen_hours: Counter[int] = Counter()
    for record in records:
        item = {"pk": {"S": pk}, "sk": {"S": time_sk(record.time, record.version)}, **_attributes(record)}
        backend.put_item(TABLE, item)
        minute = record.time - record.time % MINUTE_MS
        summaries = summarize([record], minute, minute + MINUTE_MS, MINUTE_MS)[minute]
        seen, _ = fingerprint([item])
        backend.put_item(TABLE, store._rollup_item(pk, MINUTE_MS, minute, seen, summaries))
        fold_into(hours, minute - minute % HOUR_MS, summaries)
        seen_hours[minute - minute % HOUR_MS] += seen
    days: Buckets = {}
    seen_days: Counter[int] = Counter()
    for hour, summaries in hours.items():
        backend.put_item(TABLE, store._rollup_item(pk, HOUR_MS, hour, seen_hours[hour], summaries))
        fold_into(days, hour - hour % DAY_MS, summaries)
        seen_days[hour - hour % DAY_MS] += seen_hours[hour]
    for day, summaries in days.items():
        backend.put_item(TABLE, store._rollup_item(pk, DAY_MS, day, seen_days[day], summaries))
    return records


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


def raw_replay(client: Any, series: str, start: int, end: int) -> tuple[int, int]:
    """The raw path's Query (``DynamoDbReadingStore._items``) with Select=COUNT: (calls, items read)."""
    kwargs: dict[str, Any] = {
        "TableName": TABLE,
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


def scaling(bench: Bench, sizes: list[int]) -> list[dict[str, Any]]:
    points: list[dict[str, Any]] = []
    client = boto3.client("dynamodb", region_name="us-east-1")
    create_table(client)
    store = DynamoDbReadingStore(TABLE, client=client)
    raw_store = DynamoDbReadingStore(TABLE, client=client, rollups=False)
    reads = Reads(client)
    for n in sizes:
        series = f"thing-{n}"
        started = time.perf_counter()
        records = seed(store, series, n)
        seeded = time.perf_counter() - started
        start, end = T0 + 90_000, T0 + n * MINUTE_MS  # 90 s past a day boundary: every grain and a raw edge
        for label, interval in (("1 d", DAY_MS), ("1 h", HOUR_MS)):
            reads.reset()
            rows = store.aggregate(ORG, KIND, series, start, end, interval, AGGS)
            rollup = (reads.calls, reads.items)
            assert rows == compute_aggregates(records, start, end, interval, AGGS), "rollups disagree with raw rows"
            if n == sizes[0] and interval == DAY_MS:  # the raw path for real once (1 h reads the same items)
                reads.reset()
                raw_rows = raw_store.aggregate(ORG, KIND, series, start, end, interval, AGGS)
                assert raw_rows == rows
                raw = (reads.calls, reads.items)
                reads.reset()
                assert raw_replay(client, series, start, end) == raw, "the COUNT replay must match the raw path"
            else:
                reads.reset()
                raw = raw_replay(client, series, start, end)
            intervals = len(rows)
            points.append(
                {"readings": n, "interval": label, "rows": intervals, "rollup": rollup, "raw": raw, "seed_s": seeded}
            )
            bench.figure(
                f"{n:,} readings by {label}: items read, rollups",
                rollup[1],
                "items",
                at_most=intervals + 2 * (24 + 60) + 2,
                detail=f"{rollup[0]} Query calls for {intervals} rows; raw path {raw[1]:,} items in {raw[0]} Query calls "
                f"= {raw[1] / max(rollup[1], 1):,.0f}x",
            )
            # at most 7 segments (raw edge, minutes, hours each side, days), plus a page per ~2,000 rollup items
            bench.figure(
                f"{n:,} readings by {label}: Query calls, rollups", rollup[0], "calls", at_most=7 + rollup[1] // 2000
            )
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
    """A log-log SVG of items read per request vs readings: raw path and rollups, 1 d and 1 h."""
    width, height, left, bottom, top, right = 640, 400, 70, 50, 30, 170
    xs = sorted({p["readings"] for p in points})
    values = [v for p in points for v in (p["raw"][1], p["rollup"][1])]
    x_lo, x_hi = math.log10(min(xs)) - 0.2, math.log10(max(xs)) + 0.2
    y_lo, y_hi = 0.0, math.ceil(math.log10(max(values)) + 0.1)

    def x(v: float) -> float:
        return left + (math.log10(v) - x_lo) / (x_hi - x_lo) * (width - left - right)

    def y(v: float) -> float:
        return height - bottom - (math.log10(max(v, 1)) - y_lo) / (y_hi - y_lo) * (height - bottom - top)

    series = [
        ("raw path (1 d and 1 h)", "raw", "1 d", "#c0392b", ""),
        ("rollups, 1 d", "rollup", "1 d", "#2471a3", ""),
        ("rollups, 1 h", "rollup", "1 h", "#2471a3", ' stroke-dasharray="6 4"'),
    ]
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" font-family="sans-serif" font-size="12">',
        f'<rect width="{width}" height="{height}" fill="white"/>',
        f'<text x="{left}" y="18" font-size="14">Items read per /aggregates request (one thing, one-minute data)</text>',
    ]
    for e in range(int(y_lo), int(y_hi) + 1):
        out.append(f'<line x1="{left}" x2="{width - right}" y1="{y(10**e):.1f}" y2="{y(10**e):.1f}" stroke="#ddd"/>')
        out.append(f'<text x="{left - 8}" y="{y(10**e) + 4:.1f}" text-anchor="end">10^{e}</text>')
    for v in xs:
        out.append(f'<text x="{x(v):.1f}" y="{height - bottom + 18}" text-anchor="middle">{v:,}</text>')
    out.append(
        f'<text x="{(left + width - right) / 2:.0f}" y="{height - 12}" text-anchor="middle">readings in the range</text>'
    )
    for i, (label, path, interval, color, dash) in enumerate(series):
        pts = sorted((p["readings"], p[path][1]) for p in points if p["interval"] == interval)
        line = " ".join(f"{x(a):.1f},{y(b):.1f}" for a, b in pts)
        out.append(f'<polyline points="{line}" fill="none" stroke="{color}" stroke-width="2"{dash}/>')
        out.extend(f'<circle cx="{x(a):.1f}" cy="{y(b):.1f}" r="3" fill="{color}"/>' for a, b in pts)
        ly = top + 20 + i * 20
        out.append(
            f'<line x1="{width - right + 10}" x2="{width - right + 35}" y1="{ly}" y2="{ly}" stroke="{color}" stroke-width="2"{dash}/>'
        )
        out.append(f'<text x="{width - right + 40}" y="{ly + 4}">{label}</text>')
    out.append("</svg>")
    CHART.parent.mkdir(parents=True, exist_ok=True)
    CHART.write_text("\n".join(out) + "\n")
    print(f"  chart: {CHART.relative_to(ROOT)}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sizes", default=os.environ.get("SCALING_SIZES", "10000,100000"))
    args = parser.parse_args()
    sizes = sorted(int(s) for s in args.sizes.split(","))
    os.environ.update(AWS_ACCESS_KEY_ID="bench", AWS_SECRET_ACCESS_KEY="bench", AWS_DEFAULT_REGION="us-east-1")
    os.environ.pop("AWS_ENDPOINT_URL", None)
    bench = Bench("bench_scaling")
    with mock_aws():
        write_amplification(bench)
    with mock_aws():
        points = scaling(bench, sizes)
    chart(points)
    bench.finish()


if __name__ == "__main__":
    main()
