"""ThingData + JavaScriptHandler: the handler contract, validation of its output like JsonPointer,
and runaway scripts (timeout, memory, throw, bad results) that fail one apply but never the process."""

from __future__ import annotations

import time
from typing import Any

import orjson
import pytest
from telemetry.models.metrics import MetricDefinition
from telemetry.services.templates import ApplyResult, TemplateExecutionFailed, apply_template, test_template

from .conftest import make_template

T0 = 1_718_884_800_000

HANDLER = """
function handler(payload, context) {
  return payload.rows.map(function (row) {
    return {
      timestamp: row.at,
      metrics: { mdef_voltage: row.mv / 1000, mdef_state: row.st, mdef_mode: context.templateId },
    };
  });
}
"""


def js(source: str, metric_ids: list[str] | None = None, **limits: Any) -> dict[str, Any]:
    return {"source": source, "metricIds": metric_ids or ["mdef_voltage", "mdef_state", "mdef_mode"], **limits}


def run(
    spec: dict[str, Any], payload: Any, metrics: dict[str, MetricDefinition], on_type: set[str] | None = None
) -> ApplyResult:
    template = make_template("ThingData", "JavaScriptHandler", spec, tid="tmpl_js")
    return apply_template(template, orjson.dumps(payload), metrics, set(metrics) if on_type is None else on_type)


def failure(spec: dict[str, Any], payload: Any, metrics: dict[str, MetricDefinition]) -> TemplateExecutionFailed:
    with pytest.raises(TemplateExecutionFailed) as info:
        run(spec, payload, metrics)
    return info.value


PAYLOAD = {"rows": [{"at": T0, "mv": 52300, "st": "Running"}, {"at": "2024-06-20T12:00:01Z", "mv": 1000, "st": 2}]}


def test_working_handler(metrics: dict[str, MetricDefinition]) -> None:
    result = run(js(HANDLER), PAYLOAD, metrics)
    assert result.readings == [
        (T0, {"mdef_voltage": 52.3, "mdef_state": 1, "mdef_mode": "tmpl_js"}),
        (T0 + 1000, {"mdef_voltage": 1.0, "mdef_state": 2, "mdef_mode": "tmpl_js"}),
    ]
    rep = result.report.as_dict()
    assert rep["recordsParsed"] == 2 and rep["readingsWritten"] == 2 and rep["metricValuesWritten"] == 6
    assert rep["recordsSkipped"] == [] and rep["fieldsInvalid"] == []


def test_output_is_validated_like_a_json_pointer_template(metrics: dict[str, MetricDefinition]) -> None:
    source = """function handler(p) { return [
      {timestamp: 1, metrics: {mdef_voltage: "x", mdef_state: "Exploded", mdef_torque: 5}},
      {timestamp: "never", metrics: {mdef_voltage: 1}},
      {metrics: {mdef_voltage: 1}},
      "not a reading",
      {timestamp: 2, metrics: {mdef_voltage: {nested: 1}, mdef_mode: null}},
      {timestamp: 3, metrics: {mdef_voltage: 3, mdef_count: 4}},
    ]; }"""
    result = run(js(source), {}, metrics, on_type={"mdef_voltage", "mdef_state"})
    assert result.readings == [(3, {"mdef_voltage": 3.0})]
    rep = result.report.as_dict()
    assert rep["recordsParsed"] == 6
    assert rep["recordsSkipped"] == [
        {"index": 0, "reason": "no_metric_values"},
        {"index": 1, "reason": "invalid_timestamp", "value": "never"},
        {"index": 2, "reason": "missing_timestamp"},
        {"index": 3, "reason": "invalid_record", "value": "not a reading"},
        {"index": 4, "reason": "no_metric_values"},
    ]
    assert rep["metricsSkippedNotOnTtd"] == ["mdef_mode"]
    assert rep["fieldsInvalid"] == [
        {"metricId": "mdef_torque", "reason": "undeclared_metric", "count": 1},
        {"metricId": "mdef_count", "reason": "undeclared_metric", "count": 1},
        {"metricId": "mdef_voltage", "reason": "parse_failed", "count": 1},
        {"metricId": "mdef_state", "reason": "enum_unmapped", "count": 1},
        {"metricId": "mdef_voltage", "reason": "not_scalar", "count": 1},
    ]
    assert rep["fieldsSkippedMissing"] == [{"metricId": "mdef_state", "count": 2}]  # records 4 and 5


def test_infinite_loop_times_out_within_the_limit(metrics: dict[str, MetricDefinition]) -> None:
    start = time.monotonic()
    exc = failure(js("function handler(p) { while (true) {} }", timeoutMs=200), {}, metrics)
    elapsed = time.monotonic() - start
    assert exc.reason == "script-timeout" and "200 ms" in exc.detail
    assert elapsed < 2.0


def test_memory_bomb_hits_the_memory_limit(metrics: dict[str, MetricDefinition]) -> None:
    bomb = "function handler(p) { const a = []; while (true) { a.push(new Array(1e6).fill(1.5)); } }"
    exc = failure(js(bomb, memoryLimitMb=32, timeoutMs=5000), {}, metrics)
    assert exc.reason == "script-memory" and "32 MB" in exc.detail


def test_thrown_error_is_a_script_error_with_its_message(metrics: dict[str, MetricDefinition]) -> None:
    exc = failure(js("function handler(p) { throw new Error('boom: bad frame'); }"), {}, metrics)
    assert exc.reason == "script-error"
    assert "Error: boom: bad frame" in exc.detail and exc.errors[0].path == ("spec", "source")
    exc = failure(js("function handler(p) { return p.missing.field; }"), {}, metrics)
    assert exc.reason == "script-error" and "TypeError" in exc.detail


def test_source_without_handler_is_a_script_error(metrics: dict[str, MetricDefinition]) -> None:
    exc = failure(js("function handle(p) { return []; }"), {}, metrics)
    assert exc.reason == "script-error" and "handler" in exc.detail


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        ("return {timestamp: 1};", "must return an array"),
        ("return null;", "must return an array"),
        ("return undefined;", "undefined"),
        ("return [{timestamp: 1, metrics: {mdef_voltage: 10n}}];", "BigInt"),
        ("const a = []; a.push(a); return a;", "circular"),
        ("return new Array(1001).fill({timestamp: 1, metrics: {}});", "1001 readings"),
    ],
)
def test_bad_results_are_script_result_errors(metrics: dict[str, MetricDefinition], body: str, fragment: str) -> None:
    exc = failure(js(f"function handler(p) {{ {body} }}"), {}, metrics)
    assert exc.reason == "script-result"
    assert fragment.lower() in exc.detail.lower()


def test_a_normal_apply_works_after_every_kind_of_failure(metrics: dict[str, MetricDefinition]) -> None:
    for bad in (
        "function handler(p) { while (true) {} }",
        "function handler(p) { const a = []; while (true) { a.push(new Array(1e6).fill(1)); } }",
        "function handler(p) { throw new Error('x'); }",
    ):
        with pytest.raises(TemplateExecutionFailed):
            run(js(bad, timeoutMs=300, memoryLimitMb=16), {}, metrics)
        assert run(js(HANDLER), PAYLOAD, metrics).report.readingsWritten == 2


def test_no_host_access_and_no_state_between_applies(metrics: dict[str, MetricDefinition]) -> None:
    source = """
    function handler(p) {
      globalThis.calls = (globalThis.calls || 0) + 1;
      const host = [typeof require, typeof process, typeof fetch, typeof XMLHttpRequest, typeof Deno].join(",");
      return [{timestamp: 1, metrics: {mdef_mode: host, mdef_voltage: globalThis.calls}}];
    }"""
    for _ in range(2):
        result = run(js(source), {}, metrics)
        assert result.readings == [
            (1, {"mdef_voltage": 1.0, "mdef_mode": "undefined,undefined,undefined,undefined,undefined"})
        ]


def test_payload_strings_cannot_break_out(metrics: dict[str, MetricDefinition]) -> None:
    tricky = "'); throw new Error('injected'); ('\u2028\u2029</script>\\"
    source = "function handler(p) { return [{timestamp: 1, metrics: {mdef_mode: p.s}}]; }"
    assert run(js(source), {"s": tricky}, metrics).readings == [(1, {"mdef_mode": tricky})]


def test_dry_run(metrics: dict[str, MetricDefinition]) -> None:
    template = make_template("ThingData", "JavaScriptHandler", js(HANDLER))
    rep = test_template(template, orjson.dumps(PAYLOAD), metrics).report.as_dict()
    assert rep["previewOnly"] is True and rep["readingsWritten"] == 2 and rep["metricsSkippedNotOnTtd"] == []


def test_a_reading_dated_after_now_plus_24h_is_skipped(metrics: dict[str, MetricDefinition]) -> None:
    """The one future rule on the JavaScriptHandler path too (issue 8.11)."""
    source = "function handler(p) { return p.rows.map(r => ({timestamp: r.at, metrics: {mdef_voltage: 1}})) }"
    result = run(js(source, ["mdef_voltage"]), {"rows": [{"at": 253_402_300_799_000}, {"at": T0}]}, metrics)
    assert [t for t, _ in result.readings] == [T0]
    assert result.report.as_dict()["recordsSkipped"][0]["reason"] == "invalid_timestamp"


def test_a_top_level_return_of_text_is_a_script_failure_not_a_500(metrics: dict[str, MetricDefinition]) -> None:
    """The source is compiled as a script, so a top-level ``return`` is V8's own SyntaxError."""
    err = failure(js('return "abc"; function handler() { return [] }'), {}, metrics)
    assert err.reason == "script-error"
