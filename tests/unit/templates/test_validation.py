"""Create/update validation: one test per rule of "Validation and limits" (+ the format-specific ones)."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from pydantic import ValidationError
from telemetry.errors import ValidationFailed
from telemetry.models.metrics import DataType, EnumValue, MetricDefinition
from telemetry.models.templates import TemplateCreate, TemplateUpdate
from telemetry.services.templates import MAX_MAPPINGS, MAX_SPEC_BYTES, validate_template

from .conftest import SPEC_EXAMPLE, jp_spec, m, make_template, metric


def create(spec: dict[str, Any], target: str = "ThingData", fmt: str = "JsonPointer") -> TemplateCreate:
    return TemplateCreate(name="t", target=target, format=fmt, spec=spec)  # type: ignore[arg-type]


def refused(
    candidate: TemplateCreate | TemplateUpdate, metrics: dict[str, MetricDefinition], **kw: Any
) -> ValidationFailed:
    with pytest.raises(ValidationFailed) as info:
        validate_template(candidate, metrics, **kw)
    return info.value


def reasons(exc: ValidationFailed) -> list[str]:
    return list(exc.extra["reasons"])


def paths(exc: ValidationFailed) -> list[str]:
    return [e.as_dict()["path"] for e in exc.errors]


# --------------------------------------------------------------------------- the spec's example


def test_spec_example_template_validates(metrics: dict[str, MetricDefinition]) -> None:
    body = copy.deepcopy(SPEC_EXAMPLE)
    candidate = TemplateCreate.model_validate(body)
    validate_template(candidate, metrics)  # no exception
    assert candidate.target == "ThingData" and candidate.format == "JsonPointer"


def test_minimal_valid_templates_of_each_supported_pair(metrics: dict[str, MetricDefinition]) -> None:
    validate_template(create(jp_spec(m("mdef_voltage", "/v"))), metrics)
    validate_template(
        create(
            {"source": "function handler(p) { return []; }", "metricIds": ["mdef_voltage"]}, fmt="JavaScriptHandler"
        ),
        metrics,
    )
    tx = {
        "timestamp": {"source": {"pointer": "/t"}, "format": "epoch_ms"},
        "id": {"pointer": "/id"},
        "type": {"pointer": "/kind"},
        "quantity": {"pointer": "/q"},
    }
    validate_template(create(tx, target="Transactions"), metrics)


# --------------------------------------------------------------------------- target / format


def test_unknown_target_or_format_is_refused_by_the_model() -> None:
    with pytest.raises(ValidationError):
        TemplateCreate.model_validate({**SPEC_EXAMPLE, "target": "Widgets"})
    with pytest.raises(ValidationError):
        TemplateCreate.model_validate({**SPEC_EXAMPLE, "format": "Xml"})


def test_a_thingdata_spec_is_not_an_integrations_spec(metrics: dict[str, MetricDefinition]) -> None:
    exc = refused(create(jp_spec(m("mdef_voltage", "/v")), target="Integrations"), metrics)
    assert "spec/rules" in paths(exc) and set(reasons(exc)) == {"invalid-spec"}


def test_integrations_has_no_handler_for_other_formats(metrics: dict[str, MetricDefinition]) -> None:
    exc = refused(create(integrations_spec(), target="Integrations", fmt="Dbc"), metrics)
    assert reasons(exc) == ["unsupported-format"] and paths(exc) == ["format"]


# --------------------------------------------------------------------------- Integrations


def rule(**changes: Any) -> dict[str, Any]:
    return {
        "recordType": "StatusData",
        "match": {"pointer": "/diagnostic/id", "equals": "DiagnosticStateOfChargeId"},
        "thing": {"pointer": "/device/id"},
        "timestamp": {"source": {"pointer": "/dateTime"}, "format": "iso8601"},
        "mappings": [m("mdef_soc", "/data")],
        **changes,
    }


def integrations_spec(*rules: dict[str, Any]) -> dict[str, Any]:
    return {"rules": list(rules) or [rule()]}


def test_an_integrations_template_validates(metrics: dict[str, MetricDefinition]) -> None:
    spec = integrations_spec(
        rule(),
        rule(
            match={"pointer": "/diagnostic/id", "in": ["DiagnosticOdometerId", 7]},
            mappings=[
                m("mdef_voltage", "/data", transform={"scale": 0.001, "offset": 0}),
                m("mdef_state", "/s", enumMap={"IDLE": 0}),
                m("mdef_mode", "/mode", default="auto"),
            ],
        ),
        rule(recordType="LogRecord", match=None, mappings=[m("mdef_soc", "/x")]),  # same metric, other rule
    )
    validate_template(create(spec, target="Integrations"), metrics)  # no exception


@pytest.mark.parametrize(
    ("change", "path", "reason"),
    [
        ({"thing": {"pointer": "device/id"}}, "spec/rules/0/thing/pointer", "invalid-pointer"),
        ({"match": {"pointer": "diag", "equals": "x"}}, "spec/rules/0/match/pointer", "invalid-pointer"),
        (
            {"timestamp": {"source": {"pointer": "t"}, "format": "iso8601"}},
            "spec/rules/0/timestamp/source/pointer",
            "invalid-pointer",
        ),
        (
            {"timestamp": {"source": {"pointer": "/t"}, "format": "epochMs"}},
            "spec/rules/0/timestamp/format",
            "invalid-timestamp-format",
        ),
        (
            {"timestamp": {"source": {"pointer": "/t", "scope": "document"}, "format": "iso8601"}},
            "spec/rules/0/timestamp/source/scope",
            "invalid-scope",
        ),
        ({"mappings": []}, "spec/rules/0/mappings", "no-mappings"),
        ({"mappings": [m("mdef_nope", "/data")]}, "spec/rules/0/mappings/0/metricId", "unknown-metric"),
        (
            {"mappings": [m("mdef_soc", "/a"), m("mdef_soc", "/b")]},
            "spec/rules/0/mappings/1/metricId",
            "duplicate-metric",
        ),
        (
            {"mappings": [m("mdef_mode", "/a", transform={"scale": 2})]},
            "spec/rules/0/mappings/0/transform",
            "transform-not-numeric",
        ),
        (
            {"mappings": [m("mdef_voltage", "/a", enumMap={"A": 1})]},
            "spec/rules/0/mappings/0/enumMap",
            "enum-map-not-enum",
        ),
        ({"mappings": [m("mdef_count", "/a", default="many")]}, "spec/rules/0/mappings/0/default", "invalid-default"),
        (
            {"mappings": [{**m("mdef_soc", "/a"), "source": {"pointer": "/a", "scope": "document"}}]},
            "spec/rules/0/mappings/0/source/scope",
            "invalid-scope",
        ),
        ({"match": {"pointer": "/d"}}, "spec/rules/0/match", "invalid-spec"),
        ({"match": {"pointer": "/d", "equals": "a", "in": ["b"]}}, "spec/rules/0/match", "invalid-spec"),
        ({"match": {"pointer": "/d", "in": []}}, "spec/rules/0/match/in", "invalid-spec"),
        ({"recordType": ""}, "spec/rules/0/recordType", "invalid-spec"),
        ({"thing": None}, "spec/rules/0/thing", "invalid-spec"),
        ({"extra": 1}, "spec/rules/0/extra", "invalid-spec"),
    ],
)
def test_integrations_refusals_name_the_field(
    metrics: dict[str, MetricDefinition], change: dict[str, Any], path: str, reason: str
) -> None:
    exc = refused(create(integrations_spec(rule(**change)), target="Integrations"), metrics)
    assert path in paths(exc), paths(exc)
    assert reason in reasons(exc)


def test_integrations_needs_a_rule(metrics: dict[str, MetricDefinition]) -> None:
    exc = refused(create({"rules": []}, target="Integrations"), metrics)
    assert paths(exc) == ["spec/rules"]


def test_integrations_counts_mappings_over_all_rules(metrics: dict[str, MetricDefinition]) -> None:
    many = [m(f"mdef_x{i}", "/v") for i in range(MAX_MAPPINGS // 2 + 1)]
    extra = {f"mdef_x{i}": metric(f"mdef_x{i}", DataType.Double) for i in range(MAX_MAPPINGS // 2 + 1)}
    exc = refused(
        create(integrations_spec(rule(mappings=many), rule(mappings=many)), target="Integrations"), {**metrics, **extra}
    )
    assert reasons(exc) == ["too-many-mappings"] and paths(exc) == ["spec/rules"]


def test_pair_without_registered_handler_is_refused(metrics: dict[str, MetricDefinition]) -> None:
    exc = refused(create({"dbc": "x", "mappings": []}, target="Transactions", fmt="Dbc"), metrics)
    assert exc.reason == "unsupported-format" and paths(exc) == ["format"]


def test_spec_schema_errors_carry_their_paths(metrics: dict[str, MetricDefinition]) -> None:
    spec = jp_spec(m("mdef_voltage", "/v", bogus=1))
    exc = refused(create(spec), metrics)
    assert exc.reason == "invalid-spec"
    assert paths(exc) == ["spec/mappings/0/bogus"]


# --------------------------------------------------------------------------- rules


def test_every_pointer_must_be_valid_rfc6901_and_all_are_reported(metrics: dict[str, MetricDefinition]) -> None:
    spec = jp_spec(m("mdef_voltage", "v"), m("mdef_count", "/a~2b"), records="readings", ts="/ok")
    exc = refused(create(spec), metrics)
    assert set(reasons(exc)) == {"invalid-pointer"} and exc.reason == "invalid-pointer"
    assert sorted(paths(exc)) == [
        "spec/mappings/0/source/pointer",
        "spec/mappings/1/source/pointer",
        "spec/recordsPointer",
    ]
    assert "~2" in exc.errors[-1].message or any("~2" in e.message for e in exc.errors)


def test_empty_and_escaped_pointers_are_valid(metrics: dict[str, MetricDefinition]) -> None:
    validate_template(create(jp_spec(m("mdef_voltage", ""), m("mdef_count", "/a~1b/~0c/0"), records="")), metrics)


def test_timestamp_format_must_be_known(metrics: dict[str, MetricDefinition]) -> None:
    exc = refused(create(jp_spec(m("mdef_voltage", "/v"), fmt="rfc2822")), metrics)
    assert exc.reason == "invalid-timestamp-format"
    assert paths(exc) == ["spec/timestamp/format"]


@pytest.mark.parametrize("fmt", ["iso8601", "epoch_ms", "epoch_s"])
def test_known_timestamp_formats_validate(metrics: dict[str, MetricDefinition], fmt: str) -> None:
    validate_template(create(jp_spec(m("mdef_voltage", "/v"), fmt=fmt)), metrics)


def test_mapped_metric_must_exist(metrics: dict[str, MetricDefinition]) -> None:
    exc = refused(create(jp_spec(m("mdef_nope", "/v"))), metrics)
    assert exc.reason == "unknown-metric" and paths(exc) == ["spec/mappings/0/metricId"]


def test_mapped_metric_must_not_be_deleted(metrics: dict[str, MetricDefinition]) -> None:
    exc = refused(create(jp_spec(m("mdef_gone", "/v"))), metrics)
    assert exc.reason == "metric-deleted"


def test_same_metric_cannot_be_mapped_twice(metrics: dict[str, MetricDefinition]) -> None:
    exc = refused(create(jp_spec(m("mdef_voltage", "/v"), m("mdef_voltage", "/w"))), metrics)
    assert exc.reason == "duplicate-metric" and paths(exc) == ["spec/mappings/1/metricId"]


@pytest.mark.parametrize("metric_id", ["mdef_mode", "mdef_flag", "mdef_state"])
def test_transform_only_on_numeric_metrics(metrics: dict[str, MetricDefinition], metric_id: str) -> None:
    exc = refused(create(jp_spec(m(metric_id, "/v", transform={"scale": 2, "offset": 1}))), metrics)
    assert exc.reason == "transform-not-numeric" and paths(exc) == ["spec/mappings/0/transform"]


@pytest.mark.parametrize("metric_id", ["mdef_voltage", "mdef_count"])
def test_transform_on_numeric_metrics_is_fine(metrics: dict[str, MetricDefinition], metric_id: str) -> None:
    validate_template(create(jp_spec(m(metric_id, "/v", transform={"scale": 2, "offset": 1}))), metrics)


@pytest.mark.parametrize("metric_id", ["mdef_voltage", "mdef_count", "mdef_mode"])
def test_enum_map_only_on_enum_shaped_int_metrics(metrics: dict[str, MetricDefinition], metric_id: str) -> None:
    exc = refused(create(jp_spec(m(metric_id, "/v", enumMap={"ON": 1}))), metrics)
    assert exc.reason == "enum-map-not-enum"


def test_enum_map_codes_must_be_codes_of_the_metric_enum(metrics: dict[str, MetricDefinition]) -> None:
    exc = refused(create(jp_spec(m("mdef_state", "/s", enumMap={"RUNNING": 1, "BROKEN": 9}))), metrics)
    assert exc.reason == "enum-map-unknown-code" and paths(exc) == ["spec/mappings/0/enumMap/BROKEN"]


def test_transform_and_enum_map_are_mutually_exclusive(metrics: dict[str, MetricDefinition]) -> None:
    spec = jp_spec(m("mdef_state", "/s", enumMap={"RUNNING": 1}, transform={"scale": 1, "offset": 0}))
    exc = refused(create(spec), metrics)
    assert "transform-and-enum-map" in reasons(exc)


@pytest.mark.parametrize(
    ("metric_id", "default"),
    [
        ("mdef_voltage", "abc"),
        ("mdef_count", 1.5),
        ("mdef_flag", "maybe"),
        ("mdef_state", "Exploded"),
        ("mdef_soc", 101),
    ],
)
def test_default_must_be_coercible_to_the_metric_type(
    metrics: dict[str, MetricDefinition], metric_id: str, default: Any
) -> None:
    exc = refused(create(jp_spec(m(metric_id, "/v", default=default))), metrics)
    assert exc.reason == "invalid-default" and paths(exc) == ["spec/mappings/0/default"]


@pytest.mark.parametrize(
    ("metric_id", "default"),
    [("mdef_voltage", "1.5"), ("mdef_count", 3), ("mdef_flag", "true"), ("mdef_state", "Running"), ("mdef_mode", 7)],
)
def test_coercible_defaults_are_accepted(metrics: dict[str, MetricDefinition], metric_id: str, default: Any) -> None:
    validate_template(create(jp_spec(m(metric_id, "/v", default=default))), metrics)


def test_json_metrics_are_not_supported(metrics: dict[str, MetricDefinition]) -> None:
    exc = refused(create(jp_spec(m("mdef_blob", "/b"))), metrics)
    assert exc.reason == "json-metric-unsupported"


def test_at_most_100_mappings() -> None:
    many = {f"mdef_m{i}": metric(f"mdef_m{i}", DataType.Double) for i in range(MAX_MAPPINGS + 1)}
    ok = jp_spec(*(m(f"mdef_m{i}", f"/m{i}") for i in range(MAX_MAPPINGS)))
    validate_template(create(ok), many)
    too_many = jp_spec(*(m(f"mdef_m{i}", f"/m{i}") for i in range(MAX_MAPPINGS + 1)))
    exc = refused(create(too_many), many)
    assert exc.reason == "too-many-mappings" and paths(exc) == ["spec/mappings"]


def test_at_least_one_mapping(metrics: dict[str, MetricDefinition]) -> None:
    assert refused(create(jp_spec()), metrics).reason == "no-mappings"


def _big_enum_spec(label_len: int) -> tuple[dict[str, Any], dict[str, MetricDefinition]]:
    values = [EnumValue(code=i, label=f"L{i}") for i in range(1000)]
    big = {"mdef_e": metric("mdef_e", DataType.Int, enumValues=values)}
    table = {f"{i:04d}".ljust(label_len, "x"): i for i in range(1000)}
    return jp_spec(m("mdef_e", "/e", enumMap=table)), big


def test_serialized_spec_must_stay_under_256kb() -> None:
    small, metrics = _big_enum_spec(200)  # ~210 KB
    validate_template(create(small), metrics)
    large, metrics = _big_enum_spec(270)  # ~280 KB
    exc = refused(create(large), metrics)
    assert exc.reason == "spec-too-large" and paths(exc) == ["spec"]
    assert str(MAX_SPEC_BYTES) in exc.errors[0].message


def test_all_errors_are_reported_together(metrics: dict[str, MetricDefinition]) -> None:
    spec = jp_spec(
        m("mdef_nope", "/a"),
        m("mdef_mode", "b", transform={"scale": 2, "offset": 0}),
        m("mdef_voltage", "/c", default="x"),
    )
    exc = refused(create(spec), metrics)
    assert exc.reason == "invalid-template"
    assert sorted(reasons(exc)) == sorted(
        ["unknown-metric", "invalid-pointer", "transform-not-numeric", "invalid-default"]
    )
    assert len(exc.errors) == 4


# --------------------------------------------------------------------------- update


def test_update_cannot_change_target_or_format() -> None:
    with pytest.raises(ValidationError, match="cannot be changed"):
        TemplateUpdate.model_validate({"name": "x", "target": "Transactions"})
    with pytest.raises(ValidationError, match="cannot be changed"):
        TemplateUpdate.model_validate({"format": "Dbc"})


def test_update_spec_is_validated_against_the_existing_format(metrics: dict[str, MetricDefinition]) -> None:
    existing = make_template("ThingData", "JsonPointer", jp_spec(m("mdef_voltage", "/v")))
    validate_template(TemplateUpdate(spec=jp_spec(m("mdef_count", "/n"))), metrics, existing=existing)
    exc = refused(TemplateUpdate(spec=jp_spec(m("mdef_nope", "/n"))), metrics, existing=existing)
    assert exc.reason == "unknown-metric"
    # a JavaScriptHandler spec is not a JsonPointer spec
    exc = refused(TemplateUpdate(spec={"source": "x", "metricIds": ["mdef_voltage"]}), metrics, existing=existing)
    assert exc.reason == "invalid-spec"


def test_update_without_spec_needs_no_spec_validation(metrics: dict[str, MetricDefinition]) -> None:
    existing = make_template("ThingData", "JsonPointer", jp_spec(m("mdef_voltage", "/v")))
    validate_template(TemplateUpdate(name="renamed", tags=["a"]), metrics, existing=existing)


def test_tags_must_be_unique() -> None:
    with pytest.raises(ValidationError, match="unique"):
        TemplateCreate(name="t", target="ThingData", format="JsonPointer", spec={}, tags=["a", "a"])  # type: ignore[arg-type]


# --------------------------------------------------------------------------- JavaScriptHandler / Transactions


def test_javascript_metric_ids_must_exist_and_be_unique(metrics: dict[str, MetricDefinition]) -> None:
    spec = {"source": "function handler(p) { return []; }", "metricIds": ["mdef_voltage", "mdef_nope", "mdef_voltage"]}
    exc = refused(create(spec, fmt="JavaScriptHandler"), metrics)
    assert sorted(reasons(exc)) == ["duplicate-metric", "unknown-metric"]
    assert sorted(paths(exc)) == ["spec/metricIds/1", "spec/metricIds/2"]


def test_javascript_source_must_compile(metrics: dict[str, MetricDefinition]) -> None:
    spec = {"source": "function handler(p) { return [; }", "metricIds": ["mdef_voltage"]}
    exc = refused(create(spec, fmt="JavaScriptHandler"), metrics)
    assert exc.reason == "invalid-script" and "SyntaxError" in exc.errors[0].message


@pytest.mark.parametrize(("field", "value"), [("timeoutMs", 60_000), ("timeoutMs", 0), ("memoryLimitMb", 4096)])
def test_javascript_limits_are_capped(metrics: dict[str, MetricDefinition], field: str, value: int) -> None:
    spec = {"source": "function handler(p) { return []; }", "metricIds": ["mdef_voltage"], field: value}
    assert refused(create(spec, fmt="JavaScriptHandler"), metrics).reason == "invalid-spec"


def test_transactions_need_amount_or_quantity(metrics: dict[str, MetricDefinition]) -> None:
    base = {
        "timestamp": {"source": {"pointer": "/t"}, "format": "epoch_ms"},
        "id": {"pointer": "/id"},
        "type": {"pointer": "/kind"},
    }
    exc = refused(create(base, target="Transactions"), metrics)
    assert exc.reason == "missing-amount-or-quantity"
    exc = refused(create({**base, "amount": {"pointer": "/amt"}}, target="Transactions"), metrics)
    assert exc.reason == "currency-required"
    validate_template(
        create(
            {**base, "amount": {"pointer": "/amt"}, "currency": {"pointer": "/cur", "default": "USD"}},
            target="Transactions",
        ),
        metrics,
    )
    exc = refused(create({**base, "quantity": {"pointer": "q"}}, target="Transactions"), metrics)
    assert exc.reason == "invalid-pointer"
