"""map_records / preview_records: provider records onto per-thing rows through an Integrations template."""

from __future__ import annotations

from typing import Any

import pytest
from telemetry.clock import now_ms
from telemetry.errors import PayloadTooLarge, ValidationFailed
from telemetry.models.metrics import Aggregation, DataType, EnumValue, MetricDefinition, ValidRange
from telemetry.models.readings import SeriesKind
from telemetry.models.templates import Template, TemplateFormat, TemplateStatus, TemplateTarget
from telemetry.ports.integrations import ProviderRecord
from telemetry.services.integrations.mapping import (
    MAX_SKIPS_LISTED,
    ThingTarget,
    map_records,
    preview_records,
    sample_records,
)
from telemetry.services.templates import validate_spec

from tests.integration_examples import EXPECTED_READINGS, EXPECTED_REPORT, RECORDS, placeholder_metrics, template_body

C = "2024-06-20T12:00:00Z"
T = 1718884800000


def metric(mid: str, dtype: DataType, **extra: Any) -> MetricDefinition:
    return MetricDefinition(
        id=mid, name=mid[5:], dataType=dtype, defaultAggregation=Aggregation.Last, createdAt=C, **extra
    )


METRICS = {
    m.id: m
    for m in [
        metric("mdef_soc", DataType.Double, validRange=ValidRange(min=0, max=100)),
        metric("mdef_odo", DataType.Double),
        metric("mdef_state", DataType.Int, enumValues=[EnumValue(code=0, label="Off"), EnumValue(code=1, label="On")]),
        metric("mdef_mode", DataType.String),
    ]
}


def template(*rules: dict[str, Any], status: TemplateStatus = TemplateStatus.active) -> Template:
    spec = {"rules": list(rules)}
    validate_spec(TemplateTarget.Integrations, TemplateFormat.JsonPointer, spec, METRICS)  # a stored one was validated
    return Template(
        id="tmpl_geo",
        revision=3,
        status=status,
        createdAt=C,
        updatedAt=C,
        name="g",
        target=TemplateTarget.Integrations,
        format=TemplateFormat.JsonPointer,
        spec=spec,
    )


def rule(diagnostic: str | None, *mappings: dict[str, Any], fmt: str = "iso8601", **changes: Any) -> dict[str, Any]:
    out: dict[str, Any] = {
        "recordType": "StatusData",
        "thing": {"pointer": "/device/id"},
        "timestamp": {"source": {"pointer": "/dateTime"}, "format": fmt},
        "mappings": list(mappings) or [{"metricId": "mdef_soc", "source": {"pointer": "/data"}}],
        **changes,
    }
    if diagnostic is not None:
        out["match"] = {"pointer": "/diagnostic/id", "equals": diagnostic}
    return out


def status(device: Any, diagnostic: Any, data: Any, at: Any = C) -> ProviderRecord:
    return ProviderRecord(
        "StatusData", {"device": {"id": device}, "diagnostic": {"id": diagnostic}, "dateTime": at, "data": data}
    )


SOC = rule("DiagnosticStateOfChargeId")
ODO = rule(
    "DiagnosticOdometerId", {"metricId": "mdef_odo", "source": {"pointer": "/data"}, "transform": {"scale": 0.001}}
)
TARGETS = {"b1": ThingTarget("thing_1", METRICS), "b2": ThingTarget("thing_2", METRICS)}


def test_records_of_one_thing_and_time_become_one_row_keyed_by_metric_id() -> None:
    # Given a SoC and an odometer record of device b1 at the same time, and one of b2
    records = [
        status("b1", "DiagnosticStateOfChargeId", 81.5),
        status("b2", "DiagnosticStateOfChargeId", 50),
        status("b1", "DiagnosticOdometerId", 104523417),
    ]
    # When mapped
    page = map_records(template(SOC, ODO), records, TARGETS, 42)
    # Then one SeriesRows per thing, kind THING, series = thing id, the given version, one merged row
    by_series = {g.series_id: g for g in page.groups}
    assert set(by_series) == {"thing_1", "thing_2"}
    one = by_series["thing_1"]
    assert one.kind is SeriesKind.THING and one.version == 42 and one.ids is None
    assert one.rows == [(T, {"mdef_soc": 81.5, "mdef_odo": 104523.417})]
    assert one.types == {"mdef_soc": DataType.Double, "mdef_odo": DataType.Double}
    assert by_series["thing_2"].rows == [(T, {"mdef_soc": 50.0})]
    report = page.report.as_dict()
    assert report["previewOnly"] is False and report["templateId"] == "tmpl_geo" and report["templateRevision"] == 3
    assert (report["recordsParsed"], report["readingsWritten"], report["metricValuesWritten"]) == (3, 2, 3)
    assert report["recordsSkipped"] == [] and report["recordsSkippedByReason"] == {}
    # and the rows expand to the records the writer stores
    assert [r.measures["mdef_odo"].value for r in one.records("org_1")] == [104523.417]


def test_a_record_that_fails_is_reported_and_the_rest_go_through() -> None:
    records = [
        status("b9", "DiagnosticStateOfChargeId", 10),  # not a resource of the integration
        status("b1", "DiagnosticIgnitionId", 1),  # no rule takes it
        ProviderRecord("LogRecord", {"device": {"id": "b1"}}),  # no rule for the type
        ProviderRecord("StatusData", {"diagnostic": {"id": "DiagnosticStateOfChargeId"}, "dateTime": C, "data": 1}),
        status({"id": "b1"}, "DiagnosticStateOfChargeId", 10),  # the external id is an object
        status("b1", "DiagnosticStateOfChargeId", 10, at="yesterday"),
        status("b1", "DiagnosticStateOfChargeId", 10, at=None),
        status("b1", "DiagnosticStateOfChargeId", 101),  # outside the metric's validRange
        status("b1", "DiagnosticStateOfChargeId", 77, at="2024-06-20T12:00:01Z"),
    ]
    page = map_records(template(SOC), records, TARGETS, 1)
    assert [g.rows for g in page.groups] == [[(T + 1000, {"mdef_soc": 77.0})]]
    report = page.report.as_dict()
    assert report["recordsSkipped"] == [
        {"index": 0, "reason": "unmapped_thing", "value": "b9"},
        {"index": 1, "reason": "no_matching_rule"},
        {"index": 2, "reason": "no_matching_rule"},
        {"index": 3, "reason": "missing_thing"},
        {"index": 4, "reason": "invalid_thing", "value": "<object>"},
        {"index": 5, "reason": "invalid_timestamp", "value": "yesterday"},
        {"index": 6, "reason": "missing_timestamp"},
        {"index": 7, "reason": "no_metric_values"},
    ]
    assert report["recordsSkippedByReason"] == {
        "invalid_thing": 1,
        "invalid_timestamp": 1,
        "missing_thing": 1,
        "missing_timestamp": 1,
        "no_matching_rule": 2,
        "no_metric_values": 1,
        "unmapped_thing": 1,
    }
    assert report["fieldsInvalid"] == [{"metricId": "mdef_soc", "reason": "out_of_range", "count": 1}]
    assert (report["recordsParsed"], report["readingsWritten"]) == (9, 1)


def test_an_integer_external_id_is_its_decimal_text() -> None:
    page = map_records(template(SOC), [status(1482902, "DiagnosticStateOfChargeId", 5)], {"1482902": TARGETS["b1"]}, 1)
    assert page.groups[0].series_id == "thing_1"


def test_times_with_an_offset_are_utc_epoch_ms_and_the_future_rule_applies() -> None:
    soon = now_ms() + 23 * 3_600_000
    far = now_ms() + 25 * 3_600_000
    records = [
        status("b1", "DiagnosticStateOfChargeId", 1, at="2024-06-20T08:00:00-04:00"),
        status("b1", "DiagnosticStateOfChargeId", 2, at="2024-06-20T14:30:00.250+02:30"),
    ]
    page = map_records(template(SOC), records, TARGETS, 1)
    assert page.groups[0].rows == [(T, {"mdef_soc": 1.0}), (T + 250, {"mdef_soc": 2.0})]
    epoch = template(rule("DiagnosticStateOfChargeId", fmt="epoch_ms"))
    page = map_records(
        epoch,
        [status("b1", "DiagnosticStateOfChargeId", 1, at=soon), status("b1", "DiagnosticStateOfChargeId", 1, at=far)],
        TARGETS,
        1,
    )
    assert [ts for ts, _ in page.groups[0].rows] == [soon]
    assert page.report.recordsSkipped == [{"index": 1, "reason": "invalid_timestamp", "value": far}]
    seconds = template(rule("DiagnosticStateOfChargeId", fmt="epoch_s"))
    page = map_records(seconds, [status("b1", "DiagnosticStateOfChargeId", 1, at=T // 1000)], TARGETS, 1)
    assert page.groups[0].rows == [(T, {"mdef_soc": 1.0})]


def test_every_thingdata_mapping_rule_applies() -> None:
    mappings = [
        {"metricId": "mdef_state", "source": {"pointer": "/data/state"}, "enumMap": {"ON": 1, "OFF": 0}},
        {"metricId": "mdef_mode", "source": {"pointer": "/data/mode"}, "default": "auto"},
        {"metricId": "mdef_odo", "source": {"pointer": "/data/odo"}, "transform": {"scale": 2, "offset": 1}},
    ]
    t = template(rule(None, *mappings))
    records = [
        status("b1", "X", {"state": "ON", "odo": 10}, at="2024-06-20T12:00:00Z"),
        status("b1", "X", {"state": "BROKEN", "mode": "eco", "odo": "n/a"}, at="2024-06-20T12:00:01Z"),
        status("b1", "X", {"state": ["ON"]}, at="2024-06-20T12:00:02Z"),
    ]
    page = map_records(t, records, TARGETS, 1)
    assert page.groups[0].rows == [
        (T, {"mdef_state": 1, "mdef_mode": "auto", "mdef_odo": 21.0}),
        (T + 1000, {"mdef_mode": "eco"}),
        (T + 2000, {"mdef_mode": "auto"}),
    ]
    report = page.report.as_dict()
    assert report["fieldsInvalid"] == [
        {"metricId": "mdef_state", "reason": "enum_unmapped", "count": 1},
        {"metricId": "mdef_odo", "reason": "parse_failed", "count": 1},
        {"metricId": "mdef_state", "reason": "not_scalar", "count": 1},
    ]
    assert report["fieldsSkippedMissing"] == [{"metricId": "mdef_odo", "count": 1}]


def test_a_metric_not_on_the_things_type_is_reported() -> None:
    only_odo = {"b1": ThingTarget("thing_1", {"mdef_odo": METRICS["mdef_odo"]})}
    records = [status("b1", "DiagnosticStateOfChargeId", 5), status("b1", "DiagnosticOdometerId", 1000)]
    page = map_records(template(SOC, ODO), records, only_odo, 1)
    assert page.groups[0].rows == [(T, {"mdef_odo": 1.0})]
    assert page.report.metricsSkippedNotOnTtd == ["mdef_soc"]
    assert page.report.recordsSkipped == [{"index": 0, "reason": "no_metric_values"}]


def test_match_in_compares_json_values() -> None:
    t = template(rule(None, match={"pointer": "/diagnostic/id", "in": ["A", 1, True]}))
    records = [
        status("b1", d, i, at=f"2024-06-20T12:00:0{i}Z") for i, d in enumerate(["A", 1.0, True, "1", None, "B", 0])
    ]
    page = map_records(t, records, TARGETS, 1)
    assert [v["mdef_soc"] for _, v in page.groups[0].rows] == [0.0, 1.0, 2.0]
    assert {s["index"] for s in page.report.recordsSkipped} == {3, 4, 5, 6}


def test_the_first_rule_that_takes_a_record_maps_it_and_a_later_rule_wins_a_shared_instant() -> None:
    catch_all = rule(None, {"metricId": "mdef_mode", "source": {"pointer": "/diagnostic/id"}})
    page = map_records(
        template(SOC, catch_all), [status("b1", "DiagnosticStateOfChargeId", 5), status("b1", "Other", 1)], TARGETS, 1
    )
    assert page.groups[0].rows == [(T, {"mdef_soc": 5.0, "mdef_mode": "Other"})]
    # two records of one rule at one instant: the later one wins
    page = map_records(
        template(SOC),
        [status("b1", "DiagnosticStateOfChargeId", 5), status("b1", "DiagnosticStateOfChargeId", 6)],
        TARGETS,
        1,
    )
    assert page.groups[0].rows == [(T, {"mdef_soc": 6.0})] and page.report.readingsWritten == 1


def test_two_external_ids_of_one_thing_share_its_rows() -> None:
    both = {"b1": TARGETS["b1"], "b1-old": TARGETS["b1"]}
    records = [status("b1", "DiagnosticStateOfChargeId", 5), status("b1-old", "DiagnosticOdometerId", 2000)]
    page = map_records(template(SOC, ODO), records, both, 1)
    assert len(page.groups) == 1 and page.groups[0].rows == [(T, {"mdef_soc": 5.0, "mdef_odo": 2.0})]


def test_the_skip_list_is_capped_but_every_skip_is_counted() -> None:
    records = [status("b1", "DiagnosticIgnitionId", 1)] * (MAX_SKIPS_LISTED + 50) + [
        status("b1", "DiagnosticStateOfChargeId", 1)
    ]
    page = map_records(template(SOC), records, TARGETS, 1)
    assert len(page.report.recordsSkipped) == MAX_SKIPS_LISTED
    assert page.report.recordsSkippedByReason == {"no_matching_rule": MAX_SKIPS_LISTED + 50}
    assert page.report.readingsWritten == 1


def test_an_empty_page_maps_to_nothing() -> None:
    page = map_records(template(SOC), [], TARGETS, 1)
    assert page.groups == [] and page.report.recordsParsed == 0


def test_only_a_usable_integrations_template_maps_records() -> None:
    with pytest.raises(ValidationFailed) as info:
        map_records(template(SOC, status=TemplateStatus.deleted), [], TARGETS, 1)
    assert info.value.reason == "template-deleted"
    thing_data = Template(
        id="tmpl_td",
        revision=1,
        createdAt=C,
        updatedAt=C,
        name="t",
        target=TemplateTarget.ThingData,
        format=TemplateFormat.JsonPointer,
        spec={
            "timestamp": {"source": {"pointer": "/t"}, "format": "epoch_ms"},
            "mappings": [{"metricId": "mdef_soc", "source": {"pointer": "/v"}}],
        },
    )
    with pytest.raises(ValidationFailed) as info:
        map_records(thing_data, [], TARGETS, 1)
    assert info.value.reason == "wrong-target" and "ThingData" in info.value.errors[0].message


def test_the_dry_run_keys_readings_by_external_id() -> None:
    report, readings = preview_records(
        template(SOC),
        [status("b1", "DiagnosticStateOfChargeId", 5), status("zz", "DiagnosticStateOfChargeId", 6)],
        METRICS,
    )
    assert readings == {"b1": [(T, {"mdef_soc": 5.0})], "zz": [(T, {"mdef_soc": 6.0})]}
    assert report.previewOnly is True and report.readingsWritten == 2


def test_sample_records_reads_the_dry_run_body() -> None:
    records = sample_records(b'{"recordType": "StatusData", "records": [{"a": 1}]}')
    assert records == [ProviderRecord("StatusData", {"a": 1})]
    with pytest.raises(ValidationFailed) as info:
        sample_records(b'{"recordType": "", "records": {}}')
    assert [e.as_dict()["path"] for e in info.value.errors] == ["recordType", "records"]
    with pytest.raises(ValidationFailed):
        sample_records(b"[]")
    with pytest.raises(ValidationFailed) as info:
        sample_records({"recordType": "X", "records": [{}] * 1001})
    assert "at most 1000" in info.value.errors[0].message
    with pytest.raises(PayloadTooLarge):
        sample_records(b'{"recordType": "X", "records": ["' + b"x" * (1024 * 1024) + b'"]}')


# --------------------------------------------------------------------------- the example templates (contract)


@pytest.mark.parametrize("example", sorted(EXPECTED_READINGS))
def test_each_example_template_maps_its_provider_sample(example: str) -> None:
    # Given the example with its placeholder metrics (as defined in metrics.json)
    defs = {mid: MetricDefinition(id=mid, createdAt=C, **body) for mid, body in placeholder_metrics().items()}
    body = template_body(example)
    validate_spec(TemplateTarget.Integrations, TemplateFormat.JsonPointer, body["spec"], defs)
    t = Template(
        id="tmpl_ex",
        revision=1,
        createdAt=C,
        updatedAt=C,
        name=body["name"],
        target=TemplateTarget(body["target"]),
        format=TemplateFormat(body["format"]),
        spec=body["spec"],
    )
    expected = EXPECTED_READINGS[example]
    # When its provider sample is mapped onto one thing per external id but the last
    external_ids = sorted(expected)
    targets = {ext: ThingTarget(f"thing_{ext}", defs) for ext in external_ids[:-1] or external_ids}
    page = map_records(t, RECORDS[example](), targets, 9)
    # Then the rows are the expected readings of the mapped ids, the rest unmapped_thing
    assert {g.series_id: g.rows for g in page.groups} == {f"thing_{ext}": expected[ext] for ext in targets}
    report, readings = preview_records(t, RECORDS[example](), defs)
    assert readings == expected
    out = report.as_dict()
    assert {k: out[k] for k in EXPECTED_REPORT[example]} == EXPECTED_REPORT[example]
    assert out["recordsParsed"] == len(RECORDS[example]())


def test_rules_matching_one_pointer_dispatch_by_value_and_the_first_rule_wins() -> None:
    first = rule(None, match={"pointer": "/diagnostic/id", "in": ["A", "B"]})
    second = rule(
        None,
        {"metricId": "mdef_odo", "source": {"pointer": "/data"}},
        match={"pointer": "/diagnostic/id", "equals": "B"},
    )
    records = [status("b1", "B", 5), status("b1", "A", 6, at="2024-06-20T12:00:01Z"), status("b1", 7, 7)]
    page = map_records(template(first, second), records, TARGETS, 1)
    assert page.groups[0].rows == [(T, {"mdef_soc": 5.0}), (T + 1000, {"mdef_soc": 6.0})]
    assert page.report.recordsSkipped == [{"index": 2, "reason": "no_matching_rule"}]


def test_a_thing_pointer_into_an_array_still_resolves() -> None:
    t = template(rule("DiagnosticStateOfChargeId", thing={"pointer": "/devices/0"}))
    record = ProviderRecord(
        "StatusData", {"devices": ["b2"], "diagnostic": {"id": "DiagnosticStateOfChargeId"}, "dateTime": C, "data": 1}
    )
    assert map_records(t, [record], TARGETS, 1).groups[0].series_id == "thing_2"


def test_series_types_name_only_the_metrics_written() -> None:
    records = [status("b1", "DiagnosticStateOfChargeId", 5), status("b1", "DiagnosticOdometerId", None)]
    page = map_records(template(SOC, ODO), records, TARGETS, 1)
    assert page.groups[0].types == {"mdef_soc": DataType.Double}
