"""ThingData + Dbc: decode CAN frames (plain, multiplexed, extended) with cantools and map signals."""

from __future__ import annotations

import base64
import random
from typing import Any

import cantools
import orjson
import pytest
from telemetry.errors import PayloadTooLarge, ValidationFailed
from telemetry.models.metrics import DataType, MetricDefinition
from telemetry.models.templates import TemplateCreate
from telemetry.services.templates import MAX_DBC_FRAMES, ApplyResult, apply_template, validate_template

from .conftest import make_template, metric

DBC = """VERSION ""

NS_ :

BS_:

BU_: ECU

BO_ 256 Battery: 8 ECU
 SG_ Voltage : 0|16@1+ (0.01,0) [0|655.35] "V" ECU
 SG_ Current : 16|16@1- (0.1,0) [-3276.8|3276.7] "A" ECU
 SG_ State : 32|2@1+ (1,0) [0|3] "" ECU
 SG_ Temp : 47|12@0- (0.5,-40) [-1064|983.5] "C" ECU

BO_ 512 Inverter: 8 ECU
 SG_ Page M : 0|8@1+ (1,0) [0|255] "" ECU
 SG_ Rpm m0 : 8|16@1+ (1,0) [0|65535] "rpm" ECU
 SG_ Torque m0 : 24|16@1- (0.1,0) [-3276.8|3276.7] "Nm" ECU
 SG_ DcVolt m1 : 8|16@1+ (0.1,0) [0|6553.5] "V" ECU

BO_ 2566853172 Ext: 8 ECU
 SG_ Counter : 0|8@1+ (1,0) [0|255] "" ECU

BO_ 768 Other: 2 ECU
 SG_ Current : 0|16@1+ (1,0) [0|65535] "" ECU

VAL_ 256 State 0 "IDLE" 1 "RUNNING" 2 "FAULT" ;
"""

DB: Any = cantools.database.load_string(DBC, database_format="dbc")
T0 = 1_718_884_800_000


@pytest.fixture
def can_metrics(metrics: dict[str, MetricDefinition]) -> dict[str, MetricDefinition]:
    extra = [metric(mid, DataType.Double) for mid in ("mdef_current", "mdef_temp", "mdef_dcvolt")]
    extra += [metric("mdef_rpm", DataType.Int), metric("mdef_label", DataType.String)]
    return {**metrics, **{x.id: x for x in extra}}


MAPPINGS = [
    {"signal": "Battery.Voltage", "metricId": "mdef_voltage"},
    {"signal": "Battery.Current", "metricId": "mdef_current"},
    {"signal": "Temp", "metricId": "mdef_temp"},
    {"signal": "Battery.State", "metricId": "mdef_state", "enumMap": {"IDLE": 0, "RUNNING": 1, "FAULT": 2}},
    {"signal": "State", "metricId": "mdef_label"},
    {"signal": "Inverter.Rpm", "metricId": "mdef_rpm"},
    {"signal": "Inverter.Torque", "metricId": "mdef_torque", "default": 0},
    {"signal": "Inverter.DcVolt", "metricId": "mdef_dcvolt"},
    {"signal": "Ext.Counter", "metricId": "mdef_count"},
]


def spec(mappings: list[dict[str, Any]] | None = None, **extra: Any) -> dict[str, Any]:
    return {"dbc": DBC, "mappings": MAPPINGS if mappings is None else mappings, **extra}


def frame(fid: int, signals: dict[str, Any], ts: Any, **extra: Any) -> dict[str, Any]:
    return {"id": fid, "data": DB.encode_message(fid, signals).hex(), "timestamp": ts, **extra}


def run(payload: Any, metrics: dict[str, MetricDefinition], the_spec: dict[str, Any] | None = None) -> ApplyResult:
    template = make_template("ThingData", "Dbc", the_spec or spec())
    return apply_template(template, orjson.dumps(payload), metrics, set(metrics))


# --------------------------------------------------------------------------- decoding


def test_plain_and_multiplexed_frames_round_trip(can_metrics: dict[str, MetricDefinition]) -> None:
    frames = [
        frame(256, {"Voltage": 52.3, "Current": -12.5, "State": 1, "Temp": 21.5}, T0),
        frame(512, {"Page": 0, "Rpm": 3000, "Torque": -4.5}, T0 + 10),
        frame(512, {"Page": 1, "DcVolt": 400.5}, "2024-06-20T12:00:00.020Z"),
        frame(0x18FF1234, {"Counter": 7}, T0 + 30),
    ]
    result = run({"frames": frames}, can_metrics)
    battery = DB.decode_message(256, bytes.fromhex(frames[0]["data"]), decode_choices=False)
    assert result.readings == [
        (
            T0,
            {
                "mdef_voltage": battery["Voltage"],
                "mdef_current": -12.5,
                "mdef_temp": 21.5,
                "mdef_state": 1,
                "mdef_label": "RUNNING",
            },
        ),
        (T0 + 10, {"mdef_rpm": 3000, "mdef_torque": -4.5}),
        (T0 + 20, {"mdef_torque": 0.0, "mdef_dcvolt": 400.5}),  # Torque: not in page 1 -> default
        (T0 + 30, {"mdef_count": 7}),
    ]
    assert abs(battery["Voltage"] - 52.3) < 1e-9
    rep = result.report.as_dict()
    assert rep["recordsSkipped"] == [] and rep["fieldsInvalid"] == []
    assert rep["fieldsSkippedMissing"] == [
        {"metricId": "mdef_dcvolt", "count": 1},
        {"metricId": "mdef_rpm", "count": 1},
    ]
    assert (rep["recordsParsed"], rep["readingsWritten"], rep["metricValuesWritten"]) == (4, 4, 10)


def test_fast_decoder_matches_cantools_on_random_data(can_metrics: dict[str, MetricDefinition]) -> None:
    rng = random.Random(1234)
    datas = [bytes(rng.randrange(256) for _ in range(8)) for _ in range(300)]
    mappings = [
        {"signal": f"Battery.{s}", "metricId": mid}
        for s, mid in (("Voltage", "mdef_voltage"), ("Current", "mdef_current"), ("Temp", "mdef_temp"))
    ]
    payload = {"frames": [{"id": 256, "data": d.hex(), "timestamp": i} for i, d in enumerate(datas)]}
    result = run(payload, can_metrics, spec(mappings))
    assert len(result.readings) == len(datas)
    for (ts, values), data in zip(result.readings, datas, strict=True):
        expected = DB.decode_message(256, data, decode_choices=False)
        assert values == {
            "mdef_voltage": expected["Voltage"],
            "mdef_current": expected["Current"],
            "mdef_temp": expected["Temp"],
        }, ts
        assert [type(v) for v in values.values()] == [float, float, float]


def test_unknown_frame_id_is_reported_per_record(can_metrics: dict[str, MetricDefinition]) -> None:
    frames = [
        {"id": 0x7FF, "data": "00", "timestamp": T0},
        frame(512, {"Page": 0, "Rpm": 1, "Torque": 0}, T0 + 1),
        {"id": "0x123", "data": "00", "timestamp": T0 + 2},
    ]
    result = run({"frames": frames}, can_metrics)
    assert result.readings == [(T0 + 1, {"mdef_rpm": 1, "mdef_torque": 0.0})]
    assert result.report.as_dict()["recordsSkipped"] == [
        {"index": 0, "reason": "unknown_frame_id", "value": 0x7FF},
        {"index": 2, "reason": "unknown_frame_id", "value": "0x123"},
    ]


def test_undecodable_frames_are_reported_per_record(can_metrics: dict[str, MetricDefinition]) -> None:
    frames = [
        {"id": 256, "data": "0102", "timestamp": T0},  # too short
        {"id": 512, "data": "0700000000000000", "timestamp": T0 + 1},  # no multiplexer page 7
        frame(256, {"Voltage": 1, "Current": 0, "State": 0, "Temp": 0}, T0 + 2),
    ]
    result = run({"frames": frames}, can_metrics)
    assert [ts for ts, _ in result.readings] == [T0 + 2]
    skipped = result.report.as_dict()["recordsSkipped"]
    assert [(s["index"], s["reason"]) for s in skipped] == [(0, "decode_failed"), (1, "decode_failed")]
    assert "2 instead of 8" in skipped[0]["value"] and "multiplexer" in skipped[1]["value"]


def test_frame_field_variants(can_metrics: dict[str, MetricDefinition]) -> None:
    data = DB.encode_message(0x18FF1234, {"Counter": 9})
    ok = [
        {"id": "0x18FF1234", "data": data.hex().upper(), "timestamp": 1},
        {"id": str(0x18FF1234), "data": "0x" + data.hex(), "timestamp": 2},
        {"id": 0x18FF1234 | 0x80000000, "dataBase64": base64.b64encode(data).decode(), "timestamp": 3},
        {"id": 0x18FF1234, "data": data.hex() + "ffff", "timestamp": "1970-01-01T00:00:00.004Z"},  # excess: trimmed
    ]
    bad = [
        {"id": 0x18FF1234, "data": "zz", "timestamp": 5},
        {"id": 0x18FF1234, "data": data.hex(), "dataBase64": "AA==", "timestamp": 6},
        {"id": 0x18FF1234, "dataBase64": "***", "timestamp": 7},
        {"id": 0x18FF1234, "timestamp": 8},
        {"id": "twelve", "data": "00", "timestamp": 9},
        {"id": True, "data": "00", "timestamp": 10},
        "not a frame",
        {"id": 0x18FF1234, "data": data.hex()},
        {"id": 0x18FF1234, "data": data.hex(), "timestamp": "later"},
        {"id": 768, "data": "0000", "timestamp": 11},  # known message, nothing mapped
    ]
    result = run({"frames": ok + bad}, can_metrics)
    assert result.readings == [(i, {"mdef_count": 9}) for i in (1, 2, 3, 4)]
    assert [(s["index"], s["reason"]) for s in result.report.as_dict()["recordsSkipped"]] == [
        (4, "invalid_frame_data"),
        (5, "invalid_frame_data"),
        (6, "invalid_frame_data"),
        (7, "invalid_frame_data"),
        (8, "invalid_frame_id"),
        (9, "invalid_frame_id"),
        (10, "invalid_frame"),
        (11, "missing_timestamp"),
        (12, "invalid_timestamp"),
        (13, "no_metric_values"),
    ]


def test_signal_transform_enum_map_and_invalid_values(can_metrics: dict[str, MetricDefinition]) -> None:
    mappings: list[dict[str, Any]] = [
        {"signal": "Battery.Voltage", "metricId": "mdef_soc"},  # valid range 0..100
        {"signal": "Battery.Current", "metricId": "mdef_current", "transform": {"scale": -1, "offset": 0}},
        {"signal": "Battery.State", "metricId": "mdef_state", "enumMap": {"IDLE": 0, "RUNNING": 1}},
    ]
    frames = [
        frame(256, {"Voltage": 50, "Current": 2.5, "State": 0, "Temp": 0}, 1),
        frame(256, {"Voltage": 150, "Current": 2.5, "State": 2, "Temp": 0}, 2),  # out of range; FAULT unmapped
    ]
    result = run({"frames": frames}, can_metrics, spec(mappings))
    assert result.readings == [
        (1, {"mdef_soc": 50.0, "mdef_current": -2.5, "mdef_state": 0}),
        (2, {"mdef_current": -2.5}),
    ]
    assert result.report.as_dict()["fieldsInvalid"] == [
        {"metricId": "mdef_soc", "reason": "out_of_range", "count": 1},
        {"metricId": "mdef_state", "reason": "enum_unmapped", "count": 1},
    ]


def test_custom_records_pointer_and_structural_errors(can_metrics: dict[str, MetricDefinition]) -> None:
    the_spec = spec(recordsPointer="/can/log")
    payload = {"can": {"log": [frame(0x18FF1234, {"Counter": 1}, 5)]}}
    assert run(payload, can_metrics, the_spec).readings == [(5, {"mdef_count": 1})]
    with pytest.raises(ValidationFailed) as info:
        run({"frames": {"id": 1}}, can_metrics)
    assert info.value.reason == "records-not-array"
    too_many = {"frames": [{"id": 1, "data": "00", "timestamp": 1}] * (MAX_DBC_FRAMES + 1)}
    with pytest.raises(PayloadTooLarge):
        run(too_many, can_metrics)


def test_metric_not_on_type_is_reported(can_metrics: dict[str, MetricDefinition]) -> None:
    template = make_template("ThingData", "Dbc", spec())
    frames = [frame(0x18FF1234, {"Counter": 3}, 1)]
    result = apply_template(template, orjson.dumps({"frames": frames}), can_metrics, {"mdef_voltage"})
    assert result.readings == []
    rep = result.report.as_dict()
    assert "mdef_count" in rep["metricsSkippedNotOnTtd"]
    assert rep["recordsSkipped"] == [{"index": 0, "reason": "no_metric_values"}]


# --------------------------------------------------------------------------- validation


def create(the_spec: dict[str, Any]) -> TemplateCreate:
    return TemplateCreate(name="can", target="ThingData", format="Dbc", spec=the_spec)  # type: ignore[arg-type]


def test_valid_dbc_template(can_metrics: dict[str, MetricDefinition]) -> None:
    validate_template(create(spec()), can_metrics)


def test_invalid_dbc_is_refused_with_cantools_message(can_metrics: dict[str, MetricDefinition]) -> None:
    text = "this is not a dbc"
    with pytest.raises(Exception) as cantools_error:
        cantools.database.load_string(text, database_format="dbc")
    with pytest.raises(ValidationFailed) as info:
        validate_template(create(spec(dbc=text)), can_metrics)
    assert info.value.reason == "invalid-dbc"
    assert info.value.errors[0].path == ("spec", "dbc")
    assert str(cantools_error.value) in info.value.errors[0].message


def test_signals_must_exist_and_be_unambiguous(can_metrics: dict[str, MetricDefinition]) -> None:
    mappings = [
        {"signal": "Current", "metricId": "mdef_current"},  # in Battery and Other
        {"signal": "Battery.Nope", "metricId": "mdef_voltage"},
        {"signal": "Nope.Voltage", "metricId": "mdef_temp"},
        {"signal": "Nothing", "metricId": "mdef_rpm"},
    ]
    with pytest.raises(ValidationFailed) as info:
        validate_template(create(spec(mappings)), can_metrics)
    assert info.value.extra["reasons"] == ["unknown-signal"] * 4
    messages = [e.message for e in info.value.errors]
    assert "ambiguous" in messages[0] and "Battery, Other" in messages[0]
    assert "no signal 'Nope'" in messages[1] and "no message 'Nope'" in messages[2]


def test_dbc_mappings_follow_the_metric_rules(can_metrics: dict[str, MetricDefinition]) -> None:
    mappings: list[dict[str, Any]] = [
        {"signal": "Battery.Voltage", "metricId": "mdef_label", "transform": {"scale": 2, "offset": 0}},
        {"signal": "Battery.State", "metricId": "mdef_current", "enumMap": {"IDLE": 0}},
        {"signal": "Inverter.Rpm", "metricId": "mdef_nope"},
        {"signal": "Inverter.Torque", "metricId": "mdef_torque", "default": "x"},
    ]
    with pytest.raises(ValidationFailed) as info:
        validate_template(create(spec(mappings)), can_metrics)
    assert info.value.extra["reasons"] == [
        "transform-not-numeric",
        "enum-map-not-enum",
        "unknown-metric",
        "invalid-default",
    ]


@pytest.mark.parametrize("ts", [253_402_300_799_000, "9999-12-31T00:00:00Z"])
def test_frames_dated_after_now_plus_24h_are_skipped(can_metrics: dict[str, MetricDefinition], ts: Any) -> None:
    """The one future rule (telemetry.clock.latest_accepted_ms), as for frames ingest (issue 8.11)."""
    from telemetry.clock import latest_accepted_ms

    frames = [frame(512, {"Page": 0, "Rpm": 1, "Torque": 0}, ts), frame(512, {"Page": 0, "Rpm": 2, "Torque": 0}, T0)]
    result = run({"frames": frames}, can_metrics)
    assert [t for t, _ in result.readings] == [T0]
    assert result.report.as_dict()["recordsSkipped"] == [{"index": 0, "reason": "invalid_timestamp", "value": ts}]
    assert latest_accepted_ms(0) == 24 * 3600 * 1000


def test_a_non_finite_signal_scale_is_refused(can_metrics: dict[str, MetricDefinition]) -> None:
    from telemetry.services.templates.fmt_dbc import DbcError, load_dbc

    with pytest.raises(DbcError, match="finite"):
        load_dbc(DBC.replace("(0.01,0)", "(1e320,0)"))


# --------------------------------------------------------------------------- J1939
J1939_DBC = """VERSION ""

NS_ :

BS_:

BU_: Engine

BO_ 2364540158 EEC1: 8 Engine
 SG_ EngineSpeed : 24|16@1+ (0.125,0) [0|8031.875] "rpm" Vector__XXX

BO_ 2566844926 CCVS1: 8 Engine
 SG_ WheelBasedVehicleSpeed : 8|16@1+ (0.00390625,0) [0|250.996] "km/h" Vector__XXX

BO_ 2566845182 Plain: 8 Engine
 SG_ Level : 0|8@1+ (1,0) [0|255] "" Vector__XXX

BA_DEF_ BO_ "VFrameFormat" ENUM "StandardCAN","ExtendedCAN","reserved","J1939PG";
BA_DEF_  "ProtocolType" STRING ;
BA_DEF_DEF_ "VFrameFormat" "ExtendedCAN";
BA_DEF_DEF_ "ProtocolType" "";
BA_ "ProtocolType" "J1939";
BA_ "VFrameFormat" BO_ 2364540158 3;
BA_ "VFrameFormat" BO_ 2566844926 3;
"""


def test_j1939_frames_match_their_dbc_message_by_pgn_whatever_the_source_address(
    can_metrics: dict[str, MetricDefinition],
) -> None:
    """A J1939 DBC names its messages with source address 0xFE (e.g. EEC1 as 0x0CF004FE); a truck's
    engine sends EEC1 from its own address (0x0CF00400) and other priorities: the PGN is what names it."""
    db: Any = cantools.database.load_string(J1939_DBC, database_format="dbc")
    the_spec = {
        "dbc": J1939_DBC,
        "mappings": [
            {"signal": "EngineSpeed", "metricId": "mdef_rpm"},
            {"signal": "WheelBasedVehicleSpeed", "metricId": "mdef_current"},
            {"signal": "Level", "metricId": "mdef_count"},
        ],
    }
    eec1 = db.encode_message("EEC1", {"EngineSpeed": 1500}).hex()
    ccvs = db.encode_message("CCVS1", {"WheelBasedVehicleSpeed": 88.5}).hex()
    level = db.encode_message("Plain", {"Level": 3}).hex()
    frames = [
        {"id": "0x0CF00400", "data": eec1, "timestamp": T0},  # engine #1, SA 0x00
        {"id": 0x18FEF117, "data": ccvs, "timestamp": T0 + 10},  # priority 6, SA 0x17
        {"id": 0x0CF004FE, "data": eec1, "timestamp": T0 + 20},  # exactly as in the DBC
        {"id": 0x18FEF200, "data": level, "timestamp": T0 + 30},  # not a J1939PG message: exact ids only
        {"id": 0x18FEF2FE, "data": level, "timestamp": T0 + 40},
    ]
    result = run({"frames": frames}, can_metrics, the_spec)
    assert result.readings == [
        (T0, {"mdef_rpm": 1500}),
        (T0 + 10, {"mdef_current": 88.5}),
        (T0 + 20, {"mdef_rpm": 1500}),
        (T0 + 40, {"mdef_count": 3}),
    ]
    skipped = result.report.as_dict()["recordsSkipped"]
    assert [(s["index"], s["reason"]) for s in skipped] == [(3, "unknown_frame_id")]
