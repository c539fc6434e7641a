"""Template engine throughput vs its floors (the shared harness: interleaved pairs, medians).

    .venv/bin/python bench/bench_templates.py [--repeats 9]

* JsonPointer: ``apply_template`` over 1,000 records x 5 mappings (bytes in, readings + report out)
  vs the floor "orjson.loads the payload + read the same fields by hand in a loop". Target ≥ 0.4
  (issue 11 item 3).
* Dbc: ``apply_template`` over 10,000 frames (ten spec-sized bodies of 1,000 frames, hex data) vs
  the engine's own decoder loop: the per-message decoders the engine builds
  (``fmt_dbc.fast_decoder``) called on the same frames, ids and bytes prepared. The rest of the
  apply (JSON, hex, mapping, typing, report) is the overhead, printed per frame. Target ≥ 0.5.
* JavaScriptHandler: an apply producing 1,000 readings, interleaved with a fresh isolate (what
  every apply pays for isolation); the figure is the apply's median minus the isolate's median.
  Target ≤ 10 ms beyond the isolate (issue 11 item 3). Also informational: 100 records, and a
  fresh isolate vs a reused one.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

import cantools
import orjson
from telemetry.models.metrics import Aggregation, DataType, EnumValue, MetricDefinition
from telemetry.models.templates import Template, TemplateFormat, TemplateTarget
from telemetry.services.templates import MAX_RECORDS, apply_template
from telemetry.services.templates.fmt_dbc import fast_decoder

sys.path.insert(0, str(Path(__file__).parent))  # the bench helpers beside this script
from _harness import Bench, paired, sampled, timed

CREATED = "2024-06-20T12:00:00Z"


def _metric(mid: str, dtype: DataType, **extra: Any) -> MetricDefinition:
    return MetricDefinition(
        id=mid, name=mid, dataType=dtype, defaultAggregation=Aggregation.Last, createdAt=CREATED, **extra
    )


def _template(fmt: str, spec: dict[str, Any]) -> Template:
    return Template(
        id="tmpl_bench",
        revision=1,
        createdAt=CREATED,
        updatedAt=CREATED,
        name="bench",
        target=TemplateTarget.ThingData,
        format=TemplateFormat(fmt),
        spec=spec,
    )


# --------------------------------------------------------------------------- JsonPointer

JP_METRICS = {
    m.id: m
    for m in [
        _metric("mdef_voltage", DataType.Double),
        _metric("mdef_current", DataType.Double),
        _metric(
            "mdef_state", DataType.Int, enumValues=[EnumValue(code=0, label="IDLE"), EnumValue(code=1, label="RUNNING")]
        ),
        _metric("mdef_mode", DataType.String),
        _metric("mdef_count", DataType.Int),
    ]
}
JP_SPEC = {
    "recordsPointer": "/readings",
    "timestamp": {"source": {"pointer": "/ts"}, "format": "iso8601"},
    "mappings": [
        {"metricId": "mdef_voltage", "source": {"pointer": "/v"}, "transform": {"scale": 0.1, "offset": 0}},
        {"metricId": "mdef_current", "source": {"pointer": "/i"}},
        {"metricId": "mdef_state", "source": {"pointer": "/state"}, "enumMap": {"RUNNING": 1, "IDLE": 0}},
        {"metricId": "mdef_mode", "source": {"pointer": "/mode"}},
        {"metricId": "mdef_count", "source": {"pointer": "/n"}},
    ],
}


def jp_payload(n: int = 1000) -> bytes:
    readings = [
        {
            "ts": f"2024-06-20T12:{i // 60 % 60:02d}:{i % 60:02d}.{i % 1000:03d}Z",
            "v": 500 + i % 50,
            "i": 12.5 + (i % 7) * 0.25,
            "state": "RUNNING" if i % 3 else "IDLE",
            "mode": "auto",
            "n": i,
        }
        for i in range(n)
    ]
    return orjson.dumps({"header": {"fw": "1.0"}, "readings": readings})


def jp_floor(body: bytes) -> int:
    doc = orjson.loads(body)
    total = 0
    for rec in doc["readings"]:
        _ = (rec["ts"], rec["v"], rec["i"], rec["state"], rec["mode"], rec["n"])
        total += 1
    return total


def bench_jsonpointer(bench: Bench, repeats: int) -> None:
    body = jp_payload()
    template = _template("JsonPointer", JP_SPEC)
    ids = set(JP_METRICS)
    result = apply_template(template, body, JP_METRICS, ids)
    assert result.report.readingsWritten == 1000 and result.report.metricValuesWritten == 5000, result.report
    pair = paired(lambda: jp_floor(body), lambda: apply_template(template, body, JP_METRICS, ids), repeats)
    bench.ratio(
        "JsonPointer apply, 1,000 records x 5 mappings / parse + read by hand",
        pair,
        at_least=0.4,
        detail=f"{1000 / pair.subject.median:,.0f} records/s",
    )


# --------------------------------------------------------------------------- Dbc

DBC = """VERSION ""

BS_:

BU_: ECU

BO_ 256 Battery: 8 ECU
 SG_ Voltage : 0|16@1+ (0.01,0) [0|655.35] "V" ECU
 SG_ Current : 16|16@1- (0.1,0) [-3276.8|3276.7] "A" ECU
 SG_ Soc : 32|8@1+ (0.5,0) [0|100] "%" ECU
 SG_ State : 40|2@1+ (1,0) [0|3] "" ECU

BO_ 512 Motor: 8 ECU
 SG_ Rpm : 0|16@1+ (1,0) [0|65535] "rpm" ECU
 SG_ Torque : 16|16@1- (0.1,0) [-3276.8|3276.7] "Nm" ECU

VAL_ 256 State 0 "IDLE" 1 "RUNNING" 2 "FAULT" ;
"""

DBC_METRICS = {
    m.id: m
    for m in [
        _metric("mdef_voltage", DataType.Double),
        _metric("mdef_current", DataType.Double),
        _metric("mdef_soc", DataType.Double),
        _metric("mdef_state", DataType.Int),
        _metric("mdef_rpm", DataType.Int),
        _metric("mdef_torque", DataType.Double),
    ]
}
DBC_SPEC = {
    "dbc": DBC,
    "mappings": [
        {"signal": "Battery.Voltage", "metricId": "mdef_voltage"},
        {"signal": "Battery.Current", "metricId": "mdef_current"},
        {"signal": "Battery.Soc", "metricId": "mdef_soc"},
        {"signal": "Battery.State", "metricId": "mdef_state"},
        {"signal": "Motor.Rpm", "metricId": "mdef_rpm"},
        {"signal": "Motor.Torque", "metricId": "mdef_torque"},
    ],
}


def dbc_frames(n: int = 10_000, per_request: int = MAX_RECORDS) -> tuple[list[tuple[int, bytes]], list[bytes]]:
    """The raw frames, and the same frames as JSON request bodies of at most ``per_request`` frames
    (the spec's per-apply record limit), as a client would send 10,000 frames."""
    db: Any = cantools.database.load_string(DBC, database_format="dbc")
    raw: list[tuple[int, bytes]] = []
    frames = []
    for i in range(n):
        if i % 2:
            data = db.encode_message(
                256, {"Voltage": 48 + i % 10, "Current": -5 + i % 11, "Soc": 50 + i % 40, "State": i % 3}
            )
            fid = 256
        else:
            data = db.encode_message(512, {"Rpm": 1000 + i % 3000, "Torque": 12.5})
            fid = 512
        raw.append((fid, data))
        frames.append({"id": fid, "data": data.hex(), "timestamp": 1_718_884_800_000 + i})
    bodies = [orjson.dumps({"frames": frames[i : i + per_request]}) for i in range(0, n, per_request)]
    return raw, bodies


def bench_dbc(bench: Bench, repeats: int) -> None:
    raw, bodies = dbc_frames()
    db: Any = cantools.database.load_string(DBC, database_format="dbc")
    template = _template("Dbc", DBC_SPEC)
    ids = set(DBC_METRICS)
    written = sum(apply_template(template, body, DBC_METRICS, ids).report.readingsWritten for body in bodies)
    assert written == 10_000, written

    def ours() -> None:
        for body in bodies:
            apply_template(template, body, DBC_METRICS, ids)

    decoders = {}
    for fid in {fid for fid, _ in raw}:
        decoder = fast_decoder(db.get_message_by_frame_id(fid))
        assert decoder is not None, "the bench's messages are plain: the engine decodes them with fast_decoder"
        decoders[fid] = decoder

    def engine_decode() -> None:
        for fid, data in raw:
            decoders[fid](data)

    pair = paired(engine_decode, ours, repeats)
    overhead_us = (pair.subject.median - pair.floor.median) / 10_000 * 1e6
    bench.ratio(
        "Dbc apply, 10,000 frames / the engine's own decoder loop",
        pair,
        at_least=0.5,
        detail=f"{10_000 / pair.subject.median:,.0f} frames/s; overhead {overhead_us:.2f} us per frame beyond decoding",
    )


# --------------------------------------------------------------------------- JavaScript (informational)


def bench_javascript(bench: Bench, repeats: int) -> None:
    from py_mini_racer import MiniRacer

    spec = {
        "source": "function handler(p) { return p.readings.map(r => ({timestamp: r.ts, "
        "metrics: {mdef_current: r.i, mdef_count: r.n}})); }",
        "metricIds": ["mdef_current", "mdef_count"],
    }
    template = _template("JavaScriptHandler", spec)
    body = jp_payload(100)
    ours = sampled(lambda: timed(lambda: apply_template(template, body, JP_METRICS, set(JP_METRICS))) * 1000, repeats)

    def fresh() -> None:
        with MiniRacer() as ctx:
            ctx.eval("1")

    body_1000 = jp_payload(1000)
    produced = apply_template(template, body_1000, JP_METRICS, set(JP_METRICS)).report.readingsWritten
    assert produced == 1000, produced
    pair = paired(fresh, lambda: apply_template(template, body_1000, JP_METRICS, set(JP_METRICS)), repeats)
    beyond = (pair.subject.median - pair.floor.median) * 1000
    bench.figure(
        "JavaScriptHandler apply, 1,000 readings, beyond a fresh isolate",
        beyond,
        "ms",
        at_most=10,
        detail=f"apply {pair.subject.median * 1000:.1f} ms (range {pair.subject.low * 1000:.1f}-"
        f"{pair.subject.high * 1000:.1f}), fresh isolate {pair.floor.median * 1000:.1f} ms, interleaved",
    )
    reused = MiniRacer()
    fresh_ms = sampled(lambda: timed(fresh) * 1000, repeats)
    reuse_ms = sampled(lambda: timed(lambda: reused.eval("1")) * 1000, repeats)
    reused.close()
    bench.figure("JavaScriptHandler apply, 100 records", ours, "ms", detail="informational")
    bench.figure(
        "fresh V8 isolate (one per apply, for isolation)",
        fresh_ms,
        "ms",
        detail=f"a reused isolate: {reuse_ms.median:.2f} ms",
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeats", type=int, default=9)
    args = parser.parse_args()
    bench = Bench("bench_templates")
    bench_jsonpointer(bench, args.repeats)
    bench_dbc(bench, args.repeats)
    bench_javascript(bench, args.repeats)
    bench.finish()


if __name__ == "__main__":
    main()
