"""Integrations bench (issue 9, item 9): one full Geotab GetFeed page, mapped and enqueued.

    .venv/bin/python bench/bench_integrations.py [--repeats 7]

Subject: the JSON bytes of one ``GetFeed`` answer of 50,000 ``StatusData`` records (the provider's
maximum page, the wire shape of docs/examples/integrations/geotab-statusdata.getfeed.json) are
parsed into ProviderRecords, mapped by ``map_records`` with the example template
(geotab-statusdata: state of charge + odometer, one rule per diagnostic, m → km) onto 500 things,
and enqueued as ONE AcceptedBatch through the real ``SqsReadingQueue`` on moto.

Floor, in the same process, interleaved, median of N: parse the same bytes and build the same
readings by hand (select by diagnostic, look the device up, parse the ISO time, scale, merge per
thing + time, the same SeriesRows). Target: floor time / subject time >= 0.3.

Also: SQS messages for the page == ceil(message bytes / 256 KiB), where message bytes is the
size of the batch's JSON body (the queue packs parts up to that size, see queue_sqs.split_batch).
Exits 1 on a miss.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(Path(__file__).parent))  # the bench helpers beside this script
from _harness import Bench, paired

RECORDS = 50_000
DEVICES = 500
TARGET = 0.3
EXAMPLES = ROOT / "docs" / "examples" / "integrations"
SOC, ODO = "DiagnosticStateOfChargeId", "DiagnosticOdometerId"
#: diagnostics a real StatusData feed also carries, which the template does not map
OTHERS = ("DiagnosticGoDeviceVoltageId", "DiagnosticEngineSpeedId", "DiagnosticIgnitionId")
T0 = datetime(2024, 6, 20, 12, tzinfo=UTC)


def getfeed_page(n: int = RECORDS) -> bytes:
    """One GetFeed answer as Geotab sends it: 40 % SoC, 40 % odometer, 20 % other diagnostics."""
    data = []
    for i in range(n):
        device = f"b{i % DEVICES + 1:X}"
        rnd = i // DEVICES  # each round gives every device one record; rounds cycle SoC, SoC, odo, odo, other
        kind = rnd % 5
        diagnostic = SOC if kind < 2 else ODO if kind < 4 else OTHERS[rnd % 3]
        seconds = (rnd // 5) * 60 + (kind % 2) * 30  # a device's SoC and odometer share each instant
        stamp = datetime.fromtimestamp(T0.timestamp() + seconds, tz=UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z")
        value: float = (
            40 + (i % 600) / 10 if diagnostic == SOC else 104_523_417.0 + i * 11 if diagnostic == ODO else 13.8
        )
        data.append(
            {
                "controller": "ControllerNoneId",
                "data": value,
                "dateTime": stamp,
                "device": {"id": device},
                "diagnostic": {"id": diagnostic},
                "id": f"a{i:010d}",
                "version": f"{i + 1:016x}",
            }
        )
    return orjson.dumps({"jsonrpc": "2.0", "result": {"data": data, "toVersion": f"{n:016x}"}})


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeats", type=int, default=7)
    args = parser.parse_args()
    os.environ.update(AWS_ACCESS_KEY_ID="bench", AWS_SECRET_ACCESS_KEY="bench", AWS_DEFAULT_REGION="us-east-1")
    from moto import mock_aws

    with mock_aws():
        return run(args.repeats)


def run(repeats: int) -> int:
    import boto3
    from telemetry.adapters.queue_sqs import DEFAULT_MAX_MESSAGE_BYTES, SqsReadingQueue
    from telemetry.models.metrics import MetricDefinition
    from telemetry.models.readings import AcceptedBatch, SeriesKind, SeriesRows
    from telemetry.models.templates import Template, TemplateFormat, TemplateTarget
    from telemetry.ports.integrations import ProviderRecord
    from telemetry.services.integrations.mapping import ThingTarget, map_records
    from telemetry.services.templates import validate_spec

    metrics = {
        mid: MetricDefinition(id=mid, createdAt="2024-06-20T12:00:00Z", **body)
        for mid, body in json.loads((EXAMPLES / "metrics.json").read_text()).items()
    }
    body = json.loads((EXAMPLES / "geotab-statusdata.template.json").read_text())
    validate_spec(TemplateTarget.Integrations, TemplateFormat.JsonPointer, body["spec"], metrics)
    template = Template(
        id="tmpl_bench",
        revision=1,
        createdAt="2024-06-20T12:00:00Z",
        updatedAt="2024-06-20T12:00:00Z",
        name=body["name"],
        target=TemplateTarget.Integrations,
        format=TemplateFormat.JsonPointer,
        spec=body["spec"],
    )
    targets = {f"b{d:X}": ThingTarget(f"thing_{d:04d}", metrics) for d in range(1, DEVICES + 1)}
    soc_id, odo_id = "mdef_state_of_charge", "mdef_odometer_km"
    soc_def, soc_range = metrics[soc_id], metrics[soc_id].validRange
    assert soc_range is not None and soc_range.min is not None and soc_range.max is not None
    lo, hi = soc_range.min, soc_range.max
    types = {soc_id: soc_def.dataType, odo_id: metrics[odo_id].dataType}

    sqs = boto3.client("sqs", region_name="us-east-1")
    url = sqs.create_queue(QueueName="bench-readings")["QueueUrl"]
    queue = SqsReadingQueue(url, client=sqs)
    page_bytes = getfeed_page()

    def waiting() -> int:
        answer = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages"])
        return int(answer["Attributes"]["ApproximateNumberOfMessages"])

    def subject() -> Any:
        data = orjson.loads(page_bytes)["result"]["data"]
        records = [ProviderRecord("StatusData", rec) for rec in data]
        mapped = map_records(template, records, targets, 7)
        batch = AcceptedBatch("bench", "org_bench", groups=mapped.groups)
        queue.enqueue(batch)
        return mapped, batch

    def floor() -> list[SeriesRows]:
        data = orjson.loads(page_bytes)["result"]["data"]
        rows: dict[str, dict[int, dict[str, Any]]] = {}
        for rec in data:
            diagnostic = rec["diagnostic"]["id"]
            if diagnostic == SOC:
                mid, value = soc_id, float(rec["data"])
                if not lo <= value <= hi:
                    continue
            elif diagnostic == ODO:
                mid, value = odo_id, rec["data"] / 1000
            else:
                continue
            target = targets.get(rec["device"]["id"])
            if target is None:
                continue
            dt = datetime.fromisoformat(rec["dateTime"])
            ts = ((dt.toordinal() - 719163) * 86400 + dt.hour * 3600 + dt.minute * 60 + dt.second) * 1000 + (
                dt.microsecond + 500
            ) // 1000
            by_time = rows.setdefault(target.thing_id, {})
            values = by_time.get(ts)
            if values is None:
                by_time[ts] = {mid: value}
            else:
                values[mid] = value
        return [SeriesRows(SeriesKind.THING, thing, 7, dict(types), list(t.items())) for thing, t in rows.items()]

    # the same readings, both ways
    mapped, batch = subject()
    first_page = waiting()
    by_hand = floor()
    assert {g.series_id: g.rows for g in mapped.groups} == {g.series_id: g.rows for g in by_hand}, "floor differs"
    report = mapped.report
    assert report.recordsParsed == RECORDS and report.recordsSkippedByReason == {"no_matching_rule": RECORDS // 5}
    message_bytes = len(batch.to_bytes())
    expected_messages = math.ceil(message_bytes / DEFAULT_MAX_MESSAGE_BYTES)

    runs = max(repeats, 7)
    pair = paired(floor, subject, runs=runs, warmup=0)
    total = waiting()
    print(
        f"GetFeed page {len(page_bytes) / 1e6:.1f} MB, {RECORDS:,} StatusData -> {report.readingsWritten:,} readings "
        f"({report.metricValuesWritten:,} values) of {len(mapped.groups)} things"
    )
    bench = Bench("bench_integrations")
    bench.ratio(
        "Geotab GetFeed page of 50,000 StatusData: parse + map_records + SqsReadingQueue.enqueue vs by hand",
        pair,
        at_least=TARGET,
        detail=f"{RECORDS / pair.subject.median:,.0f} records/s",
    )
    bench.figure(
        "SQS messages for one page",
        first_page,
        "messages",
        at_most=expected_messages,
        detail=f"ceil({message_bytes:,} message bytes / 256 KiB) = {expected_messages}",
    )
    bench.figure(
        "SQS messages after every timed page",
        total,
        "messages",
        at_most=(runs + 1) * expected_messages,
        detail=f"{runs + 1} pages x {expected_messages}",
    )
    bench.finish()
    return 0


if __name__ == "__main__":
    sys.exit(main())
