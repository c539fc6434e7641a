"""Applying ThingData + JsonPointer templates: the spec's example, every row of "Missing and invalid
values", transforms, timestamps, selectors and "Failure behavior"."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from telemetry.errors import MalformedRequest, PayloadTooLarge, ValidationFailed
from telemetry.models.metrics import MetricDefinition
from telemetry.models.templates import Template
from telemetry.services.templates import (
    MAX_PAYLOAD_BYTES,
    MAX_RECORDS,
    ApplyResult,
    apply_template,
    test_template,
)
from telemetry.services.templates.values import ts_iso8601

from .conftest import SPEC_EXAMPLE, jp_spec, m, make_template

T0 = 1_718_884_800_000  # 2024-06-20T12:00:00Z


def jp(spec: dict[str, Any], **kw: Any) -> Template:
    return make_template("ThingData", "JsonPointer", spec, **kw)


def run(
    spec: dict[str, Any], payload: Any, metrics: dict[str, MetricDefinition], on_type: set[str] | None = None
) -> ApplyResult:
    body = payload if isinstance(payload, bytes) else orjson.dumps(payload)
    return apply_template(jp(spec), body, metrics, set(metrics) if on_type is None else on_type)


def report(result: ApplyResult) -> dict[str, Any]:
    return result.report.as_dict()


# --------------------------------------------------------------------------- the spec's example

EXAMPLE_PAYLOAD = {
    "header": {"fw": "2.4.1"},
    "readings": [
        {"ts": "2024-06-20T12:00:00Z", "v": 523, "state": "RUNNING", "mode": "manual"},
        {"ts": "2024-06-20T12:00:01Z", "v": 519, "state": "IDLE"},
        {"ts": "n/a", "v": 500, "state": "IDLE"},
        {"ts": "2024-06-20T12:00:03Z", "v": "high", "state": "EXPLODED", "torque": 4},
    ],
}


def test_spec_example_applied_to_a_sample_payload(metrics: dict[str, MetricDefinition]) -> None:
    template = make_template("ThingData", "JsonPointer", SPEC_EXAMPLE["spec"], tid="tmpl_abc123", revision=7)
    on_type = {"mdef_voltage", "mdef_state", "mdef_mode", "mdef_fw"}
    result = apply_template(template, orjson.dumps(EXAMPLE_PAYLOAD), metrics, on_type)
    assert result.readings == [
        (T0, {"mdef_voltage": 52.3, "mdef_state": 1, "mdef_mode": "manual", "mdef_fw": "2.4.1"}),
        (T0 + 1000, {"mdef_voltage": 51.9, "mdef_state": 0, "mdef_mode": "auto", "mdef_fw": "2.4.1"}),
        (T0 + 3000, {"mdef_mode": "auto", "mdef_fw": "2.4.1"}),
    ]
    assert report(result) == {
        "previewOnly": False,
        "templateId": "tmpl_abc123",
        "templateRevision": 7,
        "recordsParsed": 4,
        "readingsWritten": 3,
        "metricValuesWritten": 10,
        "recordsSkipped": [{"index": 2, "reason": "invalid_timestamp", "value": "n/a"}],
        "metricsSkippedNotOnTtd": [],
        "fieldsSkippedMissing": [],
        "fieldsInvalid": [
            {"metricId": "mdef_voltage", "reason": "parse_failed", "count": 1},
            {"metricId": "mdef_state", "reason": "enum_unmapped", "count": 1},
        ],
    }


def test_report_has_exactly_the_documented_shape(metrics: dict[str, MetricDefinition]) -> None:
    spec = jp_spec(m("mdef_voltage", "/v"), m("mdef_torque", "/q"), m("mdef_mode", "/mode"))
    payload = {"r": [{"t": T0, "v": 1}, {"t": T0 + 1, "v": "x"}, {"t": "?"}, {"t": T0 + 3}]}
    out = report(run(spec, payload, metrics, on_type={"mdef_voltage", "mdef_mode"}))
    documented = {
        "previewOnly": bool,
        "templateId": str,
        "templateRevision": int,
        "recordsParsed": int,
        "readingsWritten": int,
        "metricValuesWritten": int,
        "recordsSkipped": list,
        "metricsSkippedNotOnTtd": list,
        "fieldsSkippedMissing": list,
        "fieldsInvalid": list,
    }
    assert set(out) == set(documented)
    for key, kind in documented.items():
        assert isinstance(out[key], kind), key
    assert out["recordsSkipped"] == [
        {"index": 1, "reason": "no_metric_values"},
        {"index": 2, "reason": "invalid_timestamp", "value": "?"},
        {"index": 3, "reason": "no_metric_values"},
    ]
    assert out["metricsSkippedNotOnTtd"] == ["mdef_torque"]
    assert out["fieldsSkippedMissing"] == [
        {"metricId": "mdef_mode", "count": 3},
        {"metricId": "mdef_voltage", "count": 1},
    ]
    assert out["fieldsInvalid"] == [{"metricId": "mdef_voltage", "reason": "parse_failed", "count": 1}]
    assert orjson.loads(orjson.dumps(out)) == out  # JSON-serializable as is


# --------------------------------------------------------------------------- Missing and invalid values


def test_absent_source_writes_the_default(metrics: dict[str, MetricDefinition]) -> None:
    spec = jp_spec(m("mdef_voltage", "/v"), m("mdef_mode", "/mode", default="auto"))
    result = run(spec, {"r": [{"t": T0, "v": 1}]}, metrics)
    assert result.readings == [(T0, {"mdef_voltage": 1.0, "mdef_mode": "auto"})]
    assert report(result)["fieldsSkippedMissing"] == []


def test_null_source_writes_the_default(metrics: dict[str, MetricDefinition]) -> None:
    spec = jp_spec(m("mdef_mode", "/mode", default="auto"))
    assert run(spec, {"r": [{"t": T0, "mode": None}]}, metrics).readings == [(T0, {"mdef_mode": "auto"})]


def test_absent_or_null_without_default_skips_the_metric_and_counts_it(metrics: dict[str, MetricDefinition]) -> None:
    spec = jp_spec(m("mdef_voltage", "/v"), m("mdef_mode", "/mode"))
    result = run(spec, {"r": [{"t": T0, "v": 1}, {"t": T0 + 1, "v": 2, "mode": None}]}, metrics)
    assert result.readings == [(T0, {"mdef_voltage": 1.0}), (T0 + 1, {"mdef_voltage": 2.0})]
    assert report(result)["fieldsSkippedMissing"] == [{"metricId": "mdef_mode", "count": 2}]


def test_present_unparseable_value_is_invalid_and_default_does_not_rescue_it(
    metrics: dict[str, MetricDefinition],
) -> None:
    spec = jp_spec(m("mdef_voltage", "/v", default=0), m("mdef_count", "/n"), m("mdef_flag", "/f"))
    result = run(spec, {"r": [{"t": T0, "v": "twelve", "n": 1.5, "f": "maybe"}, {"t": T0 + 1, "v": "12.5"}]}, metrics)
    assert result.readings == [(T0 + 1, {"mdef_voltage": 12.5})]
    rep = report(result)
    assert rep["fieldsInvalid"] == [
        {"metricId": "mdef_voltage", "reason": "parse_failed", "count": 1},
        {"metricId": "mdef_count", "reason": "parse_failed", "count": 1},
        {"metricId": "mdef_flag", "reason": "parse_failed", "count": 1},
    ]
    assert rep["recordsSkipped"] == [{"index": 0, "reason": "no_metric_values"}]


@pytest.mark.parametrize("value", [{"a": 1}, [1, 2], []])
def test_object_or_array_source_is_invalid(metrics: dict[str, MetricDefinition], value: Any) -> None:
    spec = jp_spec(m("mdef_voltage", "/v"), m("mdef_mode", "/mode", default="auto"), m("mdef_count", "/n"))
    result = run(spec, {"r": [{"t": T0, "v": value, "mode": value, "n": value}]}, metrics)
    assert result.readings == []
    assert report(result)["fieldsInvalid"] == [
        {"metricId": mid, "reason": "not_scalar", "count": 1} for mid in ("mdef_voltage", "mdef_mode", "mdef_count")
    ]


def test_enum_source_without_enum_map_entry_is_invalid(metrics: dict[str, MetricDefinition]) -> None:
    spec = jp_spec(m("mdef_state", "/s", enumMap={"RUNNING": 1, "IDLE": 0, "3": 2}), m("mdef_count", "/n"))
    payload = {
        "r": [
            {"t": T0, "s": "RUNNING", "n": 1},
            {"t": T0 + 1, "s": "running", "n": 2},
            {"t": T0 + 2, "s": 3, "n": 3},
            {"t": T0 + 3, "s": "Fault", "n": 4},
        ]
    }
    result = run(spec, payload, metrics)
    assert [r[1].get("mdef_state") for r in result.readings] == [1, None, 2, None]
    assert report(result)["fieldsInvalid"] == [{"metricId": "mdef_state", "reason": "enum_unmapped", "count": 2}]


def test_enum_metric_without_enum_map_accepts_its_labels_and_codes(metrics: dict[str, MetricDefinition]) -> None:
    spec = jp_spec(m("mdef_state", "/s"))
    result = run(spec, {"r": [{"t": 1, "s": "running"}, {"t": 2, "s": 2}, {"t": 3, "s": "Exploded"}]}, metrics)
    assert result.readings == [(1, {"mdef_state": 1}), (2, {"mdef_state": 2})]
    assert report(result)["fieldsInvalid"] == [{"metricId": "mdef_state", "reason": "enum_unmapped", "count": 1}]


def test_metric_not_on_the_thing_type_is_skipped_and_reported(metrics: dict[str, MetricDefinition]) -> None:
    spec = jp_spec(m("mdef_voltage", "/v"), m("mdef_torque", "/q"))
    result = run(spec, {"r": [{"t": T0, "v": 1, "q": 2}]}, metrics, on_type={"mdef_voltage"})
    assert result.readings == [(T0, {"mdef_voltage": 1.0})]
    assert report(result)["metricsSkippedNotOnTtd"] == ["mdef_torque"]


def test_metric_deleted_after_creation_is_skipped_like_off_type(metrics: dict[str, MetricDefinition]) -> None:
    spec = jp_spec(m("mdef_voltage", "/v"), m("mdef_gone", "/g"))
    result = run(spec, {"r": [{"t": T0, "v": 1, "g": 2}]}, metrics)
    assert result.readings == [(T0, {"mdef_voltage": 1.0})]
    assert report(result)["metricsSkippedNotOnTtd"] == ["mdef_gone"]


def test_record_without_metric_values_is_skipped_as_no_metric_values(metrics: dict[str, MetricDefinition]) -> None:
    spec = jp_spec(m("mdef_voltage", "/v"))
    result = run(spec, {"r": [{"t": T0}, {"t": T0 + 1, "v": None}, {"t": T0 + 2, "v": 3}]}, metrics)
    assert result.readings == [(T0 + 2, {"mdef_voltage": 3.0})]
    assert report(result)["recordsSkipped"] == [
        {"index": 0, "reason": "no_metric_values"},
        {"index": 1, "reason": "no_metric_values"},
    ]


def test_value_outside_the_valid_range_is_invalid(metrics: dict[str, MetricDefinition]) -> None:
    spec = jp_spec(m("mdef_soc", "/soc"))
    result = run(spec, {"r": [{"t": 1, "soc": 50}, {"t": 2, "soc": 101}, {"t": 3, "soc": "-1"}]}, metrics)
    assert result.readings == [(1, {"mdef_soc": 50.0})]
    assert report(result)["fieldsInvalid"] == [{"metricId": "mdef_soc", "reason": "out_of_range", "count": 2}]


def test_an_empty_string_for_a_string_metric_is_invalid(metrics: dict[str, MetricDefinition]) -> None:
    """Before, "" passed straight through (a str for a String metric) and the Timestream writer
    dead-lettered the reading after a 200: one rule for both stores, refused in the report."""
    spec = jp_spec(m("mdef_mode", "/mode"), m("mdef_fw", "/fw", default="none"))
    result = run(spec, {"r": [{"t": 1, "mode": "", "fw": ""}, {"t": 2, "mode": "auto"}]}, metrics)
    assert result.readings == [(2, {"mdef_mode": "auto", "mdef_fw": "none"})]
    assert report(result)["fieldsInvalid"] == [
        {"metricId": "mdef_mode", "reason": "parse_failed", "count": 1},
        {"metricId": "mdef_fw", "reason": "parse_failed", "count": 1},
    ]


def test_int_beyond_64_bits_is_invalid(metrics: dict[str, MetricDefinition]) -> None:
    body = b'{"r": [{"t": 1, "n": 18446744073709551615}, {"t": 2, "n": 7}]}'
    result = run(jp_spec(m("mdef_count", "/n")), body, metrics)
    assert result.readings == [(2, {"mdef_count": 7})]
    assert report(result)["fieldsInvalid"] == [{"metricId": "mdef_count", "reason": "parse_failed", "count": 1}]


def test_scalars_are_coerced_like_every_ingestion_path(metrics: dict[str, MetricDefinition]) -> None:
    spec = jp_spec(m("mdef_voltage", "/v"), m("mdef_count", "/n"), m("mdef_flag", "/f"), m("mdef_mode", "/s"))
    result = run(spec, {"r": [{"t": 1, "v": "3.5", "n": 4.0, "f": 1, "s": 12}]}, metrics)
    assert result.readings == [(1, {"mdef_voltage": 3.5, "mdef_count": 4, "mdef_flag": True, "mdef_mode": "12"})]


# --------------------------------------------------------------------------- transforms


def test_transform_applies_scale_and_offset_to_present_values(metrics: dict[str, MetricDefinition]) -> None:
    spec = jp_spec(
        m("mdef_voltage", "/v", transform={"scale": 0.1, "offset": -1}),
        m("mdef_torque", "/q", transform={"scale": 2.5, "offset": 0.5}),
    )
    result = run(spec, {"r": [{"t": 1, "v": 523, "q": "2"}, {"t": 2, "v": 1.5, "q": 0.5}]}, metrics)
    assert result.readings == [
        (1, {"mdef_voltage": 51.3, "mdef_torque": 5.5}),
        (2, {"mdef_voltage": -0.85, "mdef_torque": 1.75}),
    ]


def test_transform_on_int_metric_must_give_an_integer(metrics: dict[str, MetricDefinition]) -> None:
    spec = jp_spec(m("mdef_count", "/n", transform={"scale": 0.5, "offset": 1}))
    result = run(spec, {"r": [{"t": 1, "n": 10}, {"t": 2, "n": 3}, {"t": 3, "n": "x"}]}, metrics)
    assert result.readings == [(1, {"mdef_count": 6})]
    assert report(result)["fieldsInvalid"] == [
        {"metricId": "mdef_count", "reason": "not_integral", "count": 1},
        {"metricId": "mdef_count", "reason": "parse_failed", "count": 1},
    ]


def test_transformed_value_is_range_checked(metrics: dict[str, MetricDefinition]) -> None:
    spec = jp_spec(m("mdef_soc", "/soc", transform={"scale": 0.1, "offset": 0}))
    result = run(spec, {"r": [{"t": 1, "soc": 995}, {"t": 2, "soc": 1005}]}, metrics)
    assert result.readings == [(1, {"mdef_soc": 99.5})]
    assert report(result)["fieldsInvalid"] == [{"metricId": "mdef_soc", "reason": "out_of_range", "count": 1}]


def test_default_is_written_as_is_not_transformed_nor_enum_mapped(metrics: dict[str, MetricDefinition]) -> None:
    spec = jp_spec(
        m("mdef_voltage", "/v", transform={"scale": 10, "offset": 5}, default=1),
        m("mdef_state", "/s", enumMap={"ON": 1}, default="Fault"),
    )
    result = run(spec, {"r": [{"t": 1}, {"t": 2, "v": 1, "s": "ON"}]}, metrics)
    assert result.readings == [
        (1, {"mdef_voltage": 1.0, "mdef_state": 2}),
        (2, {"mdef_voltage": 15.0, "mdef_state": 1}),
    ]


def test_enum_map_maps_labels_and_code_strings(metrics: dict[str, MetricDefinition]) -> None:
    spec = jp_spec(m("mdef_state", "/s", enumMap={"RUN": 1, "0": 0, "true": 2}))
    records = [{"t": 1, "s": "RUN"}, {"t": 2, "s": 0}, {"t": 3, "s": True}, {"t": 4, "s": 0.0}]
    result = run(spec, {"r": records}, metrics)
    assert result.readings == [
        (1, {"mdef_state": 1}),
        (2, {"mdef_state": 0}),
        (3, {"mdef_state": 2}),
        (4, {"mdef_state": 0}),
    ]


# --------------------------------------------------------------------------- selectors, records, timestamps


def test_records_pointer_omitted_or_empty_means_one_reading(metrics: dict[str, MetricDefinition]) -> None:
    for records in (None, ""):
        spec = jp_spec(m("mdef_voltage", "/v"), records=records)
        result = run(spec, {"t": T0, "v": 7}, metrics)
        assert result.readings == [(T0, {"mdef_voltage": 7.0})]
        assert result.report.recordsParsed == 1


def test_document_scope_reads_from_the_root(metrics: dict[str, MetricDefinition]) -> None:
    fw = {"metricId": "mdef_fw", "source": {"pointer": "/meta/fw", "scope": "document"}}
    spec = jp_spec(fw, m("mdef_voltage", "/v"))
    spec["timestamp"]["source"] = {"pointer": "/meta/at", "scope": "document"}
    result = run(spec, {"meta": {"fw": "1.0", "at": T0}, "r": [{"v": 1}]}, metrics)
    assert result.readings == [(T0, {"mdef_fw": "1.0", "mdef_voltage": 1.0})]


def test_empty_pointer_is_the_record_root_and_arrays_are_indexable(metrics: dict[str, MetricDefinition]) -> None:
    spec = jp_spec(m("mdef_voltage", "/1"), m("mdef_count", "/2/0"), ts="/0")
    result = run(spec, {"r": [[T0, 1.5, [7]], [T0 + 1, 2.5, []]]}, metrics)
    assert result.readings == [(T0, {"mdef_voltage": 1.5, "mdef_count": 7}), (T0 + 1, {"mdef_voltage": 2.5})]
    spec = jp_spec(m("mdef_voltage", ""), ts="/t", records="/r")
    spec["timestamp"]["source"]["scope"] = "document"
    result = run(spec, {"t": T0, "r": [3.5]}, metrics)
    assert result.readings == [(T0, {"mdef_voltage": 3.5})]


def test_escaped_pointer_tokens(metrics: dict[str, MetricDefinition]) -> None:
    spec = jp_spec(m("mdef_voltage", "/a~1b"), m("mdef_count", "/~0c/x"), m("mdef_mode", "/l/01"))
    result = run(spec, {"r": [{"t": 1, "a/b": 1, "~c": {"x": 2}, "l": ["a", "b"]}]}, metrics)
    assert result.readings == [(1, {"mdef_voltage": 1.0, "mdef_count": 2})]  # "01" is not an array index


@pytest.mark.parametrize(
    ("fmt", "value", "expected"),
    [
        ("iso8601", "2024-06-20T12:00:00Z", T0),
        ("iso8601", "2024-06-20T14:00:00.250+02:00", T0 + 250),
        ("iso8601", "2024-06-20T12:00:00", T0),
        ("iso8601", "2004-09-23T00:16:36.794Z", 1_095_898_596_794),  # float truncation would give ...793
        ("epoch_ms", T0, T0),
        ("epoch_ms", str(T0), T0),
        ("epoch_ms", T0 + 0.4, T0),
        ("epoch_s", T0 // 1000, T0),
        ("epoch_s", 1_718_884_800.123, T0 + 123),
    ],
)
def test_timestamp_formats(metrics: dict[str, MetricDefinition], fmt: str, value: Any, expected: int) -> None:
    result = run(jp_spec(m("mdef_voltage", "/v"), fmt=fmt), {"r": [{"t": value, "v": 1}]}, metrics)
    assert result.readings == [(expected, {"mdef_voltage": 1.0})]


@pytest.mark.parametrize(
    ("fmt", "value"),
    [
        ("iso8601", "yesterday"),
        ("iso8601", T0),
        ("epoch_ms", "soon"),
        ("epoch_ms", True),
        ("epoch_ms", -5),
        ("epoch_s", 10**15),
        ("epoch_ms", {"a": 1}),
    ],
)
def test_unparseable_timestamp_skips_the_record(metrics: dict[str, MetricDefinition], fmt: str, value: Any) -> None:
    records = [{"t": value, "v": 1}, {"t": None, "v": 2}, {"v": 3}]
    result = run(jp_spec(m("mdef_voltage", "/v"), fmt=fmt), {"r": records}, metrics)
    assert result.readings == []
    skipped = report(result)["recordsSkipped"]
    assert skipped[0]["index"] == 0 and skipped[0]["reason"] == "invalid_timestamp" and "value" in skipped[0]
    assert skipped[1:] == [{"index": 1, "reason": "missing_timestamp"}, {"index": 2, "reason": "missing_timestamp"}]


def test_readings_with_the_same_timestamp_are_merged(metrics: dict[str, MetricDefinition]) -> None:
    spec = jp_spec(m("mdef_voltage", "/v"), m("mdef_count", "/n"))
    result = run(spec, {"r": [{"t": 1, "v": 1}, {"t": 1, "n": 2}, {"t": 1, "v": 3}]}, metrics)
    assert result.readings == [(1, {"mdef_voltage": 3.0, "mdef_count": 2})]
    assert (result.report.readingsWritten, result.report.metricValuesWritten) == (1, 2)


def test_parsed_object_payload_gives_the_same_result(metrics: dict[str, MetricDefinition]) -> None:
    template = make_template("ThingData", "JsonPointer", SPEC_EXAMPLE["spec"])
    from_bytes = apply_template(template, orjson.dumps(EXAMPLE_PAYLOAD), metrics, set(metrics))
    from_obj = apply_template(template, EXAMPLE_PAYLOAD, metrics, set(metrics))
    from_str = apply_template(template, orjson.dumps(EXAMPLE_PAYLOAD).decode(), metrics, set(metrics))
    assert from_bytes.readings == from_obj.readings == from_str.readings
    assert from_bytes.report == from_obj.report == from_str.report


# --------------------------------------------------------------------------- Failure behavior


def test_invalid_json_is_a_malformed_request(metrics: dict[str, MetricDefinition]) -> None:
    with pytest.raises(MalformedRequest, match="not valid JSON"):
        run(jp_spec(m("mdef_voltage", "/v")), b'{"r": [', metrics)


@pytest.mark.parametrize("payload", [{"r": {"t": 1}}, {"r": "x"}, {"other": []}, [1, 2]])
def test_records_pointer_not_resolving_to_an_array_fails_the_request(
    metrics: dict[str, MetricDefinition], payload: Any
) -> None:
    with pytest.raises(ValidationFailed) as info:
        run(jp_spec(m("mdef_voltage", "/v")), payload, metrics)
    assert info.value.reason == "records-not-array"
    assert info.value.errors[0].path == ("spec", "recordsPointer")


def test_payload_over_1mb_is_too_large(metrics: dict[str, MetricDefinition]) -> None:
    body = b'{"r": [], "pad": "' + b"x" * MAX_PAYLOAD_BYTES + b'"}'
    with pytest.raises(PayloadTooLarge):
        run(jp_spec(m("mdef_voltage", "/v")), body, metrics)
    with pytest.raises(PayloadTooLarge):
        run(jp_spec(m("mdef_voltage", "/v")), {"r": [], "pad": "x" * MAX_PAYLOAD_BYTES}, metrics)


def test_more_than_1000_records_is_too_large(metrics: dict[str, MetricDefinition]) -> None:
    spec = jp_spec(m("mdef_voltage", "/v"))
    ok = run(spec, {"r": [{"t": i, "v": i} for i in range(MAX_RECORDS)]}, metrics)
    assert ok.report.readingsWritten == MAX_RECORDS
    with pytest.raises(PayloadTooLarge, match="1001 records"):
        run(spec, {"r": [{"t": i, "v": i} for i in range(MAX_RECORDS + 1)]}, metrics)


def test_deleted_template_cannot_be_applied(metrics: dict[str, MetricDefinition]) -> None:
    template = jp(jp_spec(m("mdef_voltage", "/v")))
    template.status = "deleted"  # type: ignore[assignment]
    with pytest.raises(ValidationFailed):
        apply_template(template, b"{}", metrics, set(metrics))


def test_integrations_template_cannot_be_applied_to_a_payload(metrics: dict[str, MetricDefinition]) -> None:
    spec = {
        "rules": [
            {
                "recordType": "StatusData",
                "thing": {"pointer": "/device/id"},
                "timestamp": {"source": {"pointer": "/dateTime"}, "format": "iso8601"},
                "mappings": [m("mdef_voltage", "/data")],
            }
        ]
    }
    template = make_template("Integrations", "JsonPointer", spec)
    with pytest.raises(ValidationFailed) as info:
        apply_template(template, b"{}", metrics, set(metrics))
    assert info.value.reason == "wrong-target" and "Integrations" in info.value.errors[0].message


# --------------------------------------------------------------------------- dry run / preview


def test_dry_run_counts_every_mapped_metric_as_on_type(metrics: dict[str, MetricDefinition]) -> None:
    template = make_template("ThingData", "JsonPointer", SPEC_EXAMPLE["spec"])
    result = test_template(template, orjson.dumps(EXAMPLE_PAYLOAD), metrics)
    rep = report(result)
    assert rep["previewOnly"] is True and rep["metricsSkippedNotOnTtd"] == []
    assert rep["readingsWritten"] == 3


def test_preview_only_is_echoed(metrics: dict[str, MetricDefinition]) -> None:
    template = jp(jp_spec(m("mdef_voltage", "/v")))
    result = apply_template(template, b'{"r": [{"t": 1, "v": 1}]}', metrics, set(metrics), preview_only=True)
    assert result.report.previewOnly is True and result.readings == [(1, {"mdef_voltage": 1.0})]


# --------------------------------------------------------------------------- Transactions target


def test_transactions_records(metrics: dict[str, MetricDefinition]) -> None:
    spec = {
        "recordsPointer": "/tx",
        "timestamp": {"source": {"pointer": "/at"}, "format": "iso8601"},
        "id": {"pointer": "/id"},
        "type": {"pointer": "/kind", "default": "charge"},
        "amount": {"pointer": "/amt"},
        "currency": {"pointer": "/cur", "default": "usd"},
        "quantity": {"pointer": "/kwh"},
        "attributes": {"site": {"pointer": "/site", "scope": "document"}, "meta": {"pointer": "/meta"}},
    }
    payload = {
        "site": "S1",
        "tx": [
            {"id": "a", "at": "2024-06-20T12:00:00Z", "amount": 1, "amt": "12.50", "cur": "EUR", "kwh": 3},
            {"id": 7, "at": "2024-06-20T12:00:00Z", "kind": "refund", "amt": -2, "meta": {"x": 1}},
            {"at": "2024-06-20T12:00:00Z", "amt": 1},
            {"id": "c", "at": "2024-06-20T12:00:00Z", "amt": "lots"},
            {"id": "d", "at": "2024-06-20T12:00:00Z", "amt": 1, "cur": "EURO"},
            {"id": "e", "at": "2024-06-20T12:00:00Z"},
            {"id": "f", "at": "later", "kwh": 1},
        ],
    }
    result = apply_template(make_template("Transactions", "JsonPointer", spec), orjson.dumps(payload), metrics, set())
    assert [t.as_dict() for t in result.transactions] == [
        {
            "id": "a",
            "time": T0,
            "type": "charge",
            "amount": 12.5,
            "currency": "EUR",
            "quantity": 3.0,
            "attributes": {"site": "S1"},
        },
        {"id": "7", "time": T0, "type": "refund", "amount": -2.0, "currency": "USD", "attributes": {"site": "S1"}},
    ]
    rep = report(result)
    assert rep["transactionsWritten"] == 2 and rep["readingsWritten"] == 0 and result.readings == []
    assert rep["recordsSkipped"] == [
        {"index": 2, "reason": "missing_id"},
        {"index": 3, "reason": "invalid_amount", "value": "lots"},
        {"index": 4, "reason": "invalid_currency", "value": "EURO"},
        {"index": 5, "reason": "missing_amount_or_quantity"},
        {"index": 6, "reason": "invalid_timestamp", "value": "later"},
    ]
    assert rep["fieldsInvalid"] == [{"metricId": "attributes/meta", "reason": "not_scalar", "count": 1}]


# --------------------------------------------------------------------------- ISO 8601 arithmetic

_EPOCH_ORDINAL = 719_163


def _field_arithmetic(dt: Any) -> int:
    """The epoch-ms arithmetic the engine used before it moved to timedelta (the reference)."""
    return ((dt.toordinal() - _EPOCH_ORDINAL) * 86_400 + dt.hour * 3600 + dt.minute * 60 + dt.second) * 1000 + (
        dt.microsecond + 500
    ) // 1000


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    dt=st.datetimes(min_value=datetime(1970, 1, 1), max_value=datetime(2025, 12, 31, 23, 59, 59, 999_999)),
    utc=st.booleans(),
)
def test_iso_timestamps_are_exact_in_the_parser_and_the_generated_loop(
    dt: Any, utc: bool, metrics: dict[str, MetricDefinition]
) -> None:
    """Sub-millisecond parts round half up, naive means UTC, in both ISO paths (same as before; times
    in the past: the future is refused)."""
    text = dt.isoformat() + ("Z" if utc else "")
    expected = _field_arithmetic(dt)
    assert ts_iso8601(text) == expected
    spec = jp_spec(m("mdef_count", "/n"), fmt="iso8601")
    result = run(spec, {"r": [{"t": text, "n": 1}]}, metrics)
    assert [ts for ts, _ in result.readings] == [expected]
