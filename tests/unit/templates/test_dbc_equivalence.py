"""The engine's Dbc per-frame path (generated message code, fast path in the main loop) against the
plain per-frame loop it replaced (``dbc_reference``): same readings (values, their types and order),
same report, same errors, on random frames of random and fixture DBCs with random mappings."""

from __future__ import annotations

import base64
import os
from collections import OrderedDict
from typing import Any

import orjson
from cantools.database.can import Database, Message, Signal
from cantools.database.conversion import BaseConversion
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from telemetry.models.metrics import DataType, EnumValue, MetricDefinition, ValidRange
from telemetry.models.templates import DbcSpec
from telemetry.services.templates.engine import parse_payload
from telemetry.services.templates.fmt_dbc import DbcError, apply_dbc, load_dbc
from telemetry.services.templates.report import ApplyReport

from .conftest import metric
from .dbc_reference import reference_apply_dbc
from .test_dbc import DBC, J1939_DBC

T0 = 1_718_884_800_000
EXAMPLES = int(os.environ.get("DBC_EQUIVALENCE_EXAMPLES", "300"))

METRICS: dict[str, MetricDefinition] = {
    m.id: m
    for m in [
        metric("mdef_double", DataType.Double),
        metric("mdef_ranged", DataType.Double, validRange=ValidRange(min=0, max=100)),
        metric("mdef_int", DataType.Int),
        metric("mdef_enum", DataType.Int, enumValues=[EnumValue(code=c, label=f"L{c}") for c in range(3)]),
        metric("mdef_string", DataType.String),
        metric("mdef_bool", DataType.Bool),
        metric("mdef_gone", DataType.Double, deleted=True),
        metric("mdef_blob", DataType.Json),
    ]
}
METRIC_IDS = [*METRICS, "mdef_unknown"]
SCALES = [(1, 0), (2, 0), (1, 5), (0.5, 0), (0.1, -40), (3, 0.5), (-1, 0), (1.0, 0.0), (0.25, 1), (1e-3, 0)]
FRAME_IDS = [0x100, 0x200, 0x7FF, 0x18FF1234, 0x0CF004FE, 0x1FFFFFFF]


@st.composite
def generated_dbc(draw: st.DrawFn) -> str:
    """Messages of 1-8 bytes: bit-packed little-endian signals of 1-64 bits, or byte-aligned
    signals of either byte order (float signals among them), any scale/offset, some with choices."""
    messages = []
    for j, fid in enumerate(draw(st.lists(st.sampled_from(FRAME_IDS), min_size=1, max_size=3, unique=True))):
        length = draw(st.integers(1, 8))
        signals: list[Signal] = []
        packed = draw(st.booleans())
        pos = 0
        while pos < (length * 8 if packed else length) and len(signals) < 6:
            scale, offset = draw(st.sampled_from(SCALES))
            choices: Any = OrderedDict({0: "L0", 1: "L1", 2: "L2"}) if draw(st.integers(0, 4)) == 0 else None
            if packed:
                room = min(64, length * 8 - pos)
                edges = [b for b in (1, 8, 16, 32, 63, 64) if b <= room]  # int64 / uint64 limits
                bits = draw(st.sampled_from(edges) | st.integers(1, room))
                start, order, is_float, pos_next = pos, "little_endian", False, pos + bits
            else:
                nbytes = draw(st.integers(1, length - pos))
                bits = 8 * nbytes
                order = draw(st.sampled_from(["little_endian", "big_endian"]))
                start = 8 * pos + (7 if order == "big_endian" else 0)
                is_float = nbytes in (4, 8) and draw(st.booleans())
                pos_next = pos + nbytes
            conversion = BaseConversion.factory(scale=scale, offset=offset, choices=choices, is_float=is_float)
            signals.append(
                Signal(f"M{j}S{len(signals)}", start, bits, order, draw(st.booleans()), conversion=conversion)  # type: ignore[arg-type]
            )
            pos = pos_next
        messages.append(Message(fid, f"M{j}", length, signals, is_extended_frame=fid > 0x7FF, strict=True))
    return str(Database(messages=messages).as_dbc_string())


def _signal_names(text: str) -> list[str]:
    db = load_dbc(text)
    names = [f"{m.name}.{s.name}" for m in db.messages for s in m.signals]
    return names + [s.name for m in db.messages for s in m.signals] + ["Nope.Nothing", "Nothing"]


@st.composite
def case(draw: st.DrawFn) -> tuple[dict[str, Any], Any, set[str]]:
    text = draw(st.one_of(st.sampled_from([DBC, J1939_DBC]), generated_dbc()))
    try:
        db = load_dbc(text)
    except DbcError:  # pragma: no cover - the generated DBCs are valid
        raise AssertionError("generated DBC does not load") from None
    names = _signal_names(text)
    mappings = []
    for _ in range(draw(st.integers(1, 8))):
        mapping: dict[str, Any] = {
            "signal": draw(st.sampled_from(names)),
            "metricId": draw(st.sampled_from(METRIC_IDS)),
        }
        if draw(st.integers(0, 4)) == 0:
            mapping["transform"] = {"scale": draw(st.sampled_from([0.1, 2.0, 1.0, 0.001])), "offset": 0.0}
        if draw(st.integers(0, 4)) == 0:
            mapping["enumMap"] = draw(st.sampled_from([{"L0": 0, "L1": 1}, {"IDLE": 0, "RUNNING": 1, "FAULT": 2}]))
        if draw(st.integers(0, 3)) == 0:
            mapping["default"] = draw(st.sampled_from([0, 1.5, "x", True, -1]))
        mappings.append(mapping)
    spec = {"dbc": text, "mappings": mappings}
    if draw(st.integers(0, 5)) == 0:
        spec["timestampFormat"] = draw(st.sampled_from(["epoch_ms", "epoch_s", "iso8601", "auto"]))
    messages = {m.frame_id: m for m in db.messages}
    frames = [draw(_frame(messages)) for _ in range(draw(st.integers(0, 25)))]
    on_type = set(draw(st.lists(st.sampled_from(METRIC_IDS), max_size=len(METRIC_IDS))))
    if draw(st.booleans()):
        on_type = set(METRIC_IDS)
    return spec, {"frames": frames}, on_type


@st.composite
def _frame(draw: st.DrawFn, messages: dict[int, Message]) -> Any:
    if draw(st.integers(0, 30)) == 0:
        return draw(st.sampled_from([5, [], "frame", None]))
    fid = draw(st.sampled_from([*messages, *messages, 0x123]))
    length = messages[fid].length if fid in messages else 8
    sa = draw(st.integers(0, 255))
    raw_id: Any = draw(
        st.sampled_from(
            [fid] * 6 + [hex(fid), str(fid), fid | 0x80000000, (fid & ~0xFF) | sa, True, float(fid), None, "zz", -1]
        )
    )
    data = draw(
        st.binary(min_size=length, max_size=length)
        | st.sampled_from([b"\xff" * length, b"\x7f" * length, b"\x80" * length])
        | st.binary(max_size=9)
    )
    frame: dict[str, Any] = {}
    if draw(st.integers(0, 12)) != 0:
        frame["id"] = raw_id
    kind = draw(st.sampled_from(["hex"] * 8 + ["0x", "upper", "b64", "both", "bad", "number", "none", "spaced"]))
    if kind in ("hex", "both"):
        frame["data"] = data.hex()
    elif kind == "0x":
        frame["data"] = "0x" + data.hex()
    elif kind == "upper":
        frame["data"] = data.hex().upper()
    elif kind == "spaced":
        frame["data"] = data.hex(" ")
    elif kind == "bad":
        frame["data"] = "zz"
    elif kind == "number":
        frame["data"] = 12
    if kind in ("b64", "both"):
        frame["dataBase64"] = base64.b64encode(data).decode()
    ts = draw(
        st.sampled_from(
            [T0 + draw(st.integers(0, 5))] * 8
            + [-1, 10**16, "2024-06-20T12:00:00Z", "1718884800", None, 1.5, True, T0 // 1000]
        )
    )
    if draw(st.integers(0, 12)) != 0:
        frame["timestamp"] = ts
    if draw(st.integers(0, 6)) == 0:
        frame["extra"] = 1
    return frame


def _outcome(apply: Any, spec: DbcSpec, doc: Any, on_type: set[str]) -> Any:
    report = ApplyReport(previewOnly=False, templateId="tmpl_eq", templateRevision=1)
    try:
        readings = apply(spec, doc, METRICS, on_type, report)
    except Exception as exc:
        return ("raised", type(exc).__name__, str(exc))
    typed = [(ts, [(k, type(v).__name__, repr(v)) for k, v in values.items()]) for ts, values in readings]
    return typed, report.as_dict()


@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(case())
def test_the_engine_per_frame_path_matches_the_plain_loop(example: tuple[dict[str, Any], Any, set[str]]) -> None:
    spec_dict, payload, on_type = example
    spec = DbcSpec.model_validate(spec_dict)
    doc = parse_payload(orjson.dumps(payload))
    assert _outcome(apply_dbc, spec, doc, on_type) == _outcome(reference_apply_dbc, spec, doc, on_type)


def test_the_bench_frames_match_the_plain_loop() -> None:
    """Many frames through the fast path (the shape the bench measures), every value compared."""
    db = load_dbc(DBC)
    mappings = [
        {"signal": "Battery.Voltage", "metricId": "mdef_double"},
        {"signal": "Battery.Current", "metricId": "mdef_ranged"},
        {"signal": "Battery.State", "metricId": "mdef_enum"},
        {"signal": "Battery.Temp", "metricId": "mdef_int"},
        {"signal": "Inverter.Rpm", "metricId": "mdef_int"},
        {"signal": "Inverter.DcVolt", "metricId": "mdef_double", "default": 1.5},
    ]
    frames = []
    for i in range(1000):
        fid = (256, 512)[i % 2]
        data = os.urandom(db.get_message_by_frame_id(fid).length)
        if fid == 512:  # Inverter is multiplexed: pages 0 and 1 exist
            data = bytes([i // 2 % 2]) + data[1:]
        frames.append({"id": fid, "data": data.hex(), "timestamp": T0 + i // 3})
    spec = DbcSpec.model_validate({"dbc": DBC, "mappings": mappings})
    doc = parse_payload(orjson.dumps({"frames": frames}))
    new, old = _outcome(apply_dbc, spec, doc, set(METRICS)), _outcome(reference_apply_dbc, spec, doc, set(METRICS))
    assert new == old
    assert (new[1]["readingsWritten"], new[1]["recordsSkipped"]) == (334, [])


EDGE_DBC = """VERSION ""

BS_:

BU_: ECU

BO_ 256 Wide: 8 ECU
 SG_ U64 : 0|64@1+ (1,0) [0|0] "" ECU

BO_ 257 Wide63: 8 ECU
 SG_ U63x2 : 0|63@1+ (2,0) [0|0] "" ECU
 SG_ Bit : 63|1@1+ (1,5) [0|0] "" ECU

BO_ 258 Signed: 8 ECU
 SG_ S64 : 0|64@1- (1,0) [0|0] "" ECU

BO_ 259 Narrow: 8 ECU
 SG_ U63 : 0|63@1+ (1,0) [0|0] "" ECU
 SG_ Half : 63|1@1+ (0.5,0) [0|0] "" ECU
"""


def test_the_64_bit_limits_of_int_metrics_match_the_plain_loop() -> None:
    """Where the generated code drops the Int metric's range test (an unscaled signal of <= 63 bits
    unsigned, <= 64 signed) and where it must keep it (64 bits unsigned, integer-scaled 63 bits)."""
    mappings = [
        {"signal": s, "metricId": mid}
        for s in ("U64", "U63x2", "Bit", "S64", "U63", "Half")
        for mid in ("mdef_int", "mdef_enum", "mdef_double", "mdef_bool", "mdef_string")
    ]
    datas = [b"\xff" * 8, b"\x7f" * 8, b"\x80" * 8, b"\x00" * 8, b"\xff" * 7 + b"\x7f", b"\x01" * 8]
    frames = [
        {"id": fid, "data": data.hex(), "timestamp": T0 + i}
        for i, (fid, data) in enumerate((f, d) for f in (256, 257, 258, 259) for d in datas)
    ]
    spec = DbcSpec.model_validate({"dbc": EDGE_DBC, "mappings": mappings})
    doc = parse_payload(orjson.dumps({"frames": frames}))
    new = _outcome(apply_dbc, spec, doc, set(METRICS))
    assert new == _outcome(reference_apply_dbc, spec, doc, set(METRICS))
    invalid = {(r["metricId"], r["reason"]): r["count"] for r in new[1]["fieldsInvalid"]}
    assert invalid[("mdef_int", "parse_failed")] == 7  # beyond 64 signed bits: refused, not stored
