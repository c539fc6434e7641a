"""The JsonPointer record loop as a plain per-record loop (every field through its getter and
converter, every check at run time): the reference ``test_jsonpointer_equivalence`` compares the
engine's ``apply_jsonpointer`` (a loop generated per template shape, with inline fast paths) with.
It reuses the engine's compiled fields (converters are pinned by the behaviour tests); what it
pins is the per-record path around them: skips, defaults, counts, merging and their order."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from telemetry.clock import latest_accepted_ms
from telemetry.models.metrics import MetricDefinition
from telemetry.models.templates import JsonPointerSpec
from telemetry.services.templates.engine import BAD_DEFAULT, compile_field, finish, usable_metric
from telemetry.services.templates.fmt_jsonpointer import resolve_records, selector_getter
from telemetry.services.templates.limits import MAX_TIMESTAMP_MS
from telemetry.services.templates.report import ApplyReport, Reading
from telemetry.services.templates.values import (
    INVALID_DEFAULT,
    MISSING,
    TIMESTAMP_PARSERS,
    InvalidValueError,
    not_after,
)


def reference_apply_jsonpointer(
    spec: JsonPointerSpec,
    doc: Any,
    metrics: Mapping[str, MetricDefinition],
    on_type: set[str],
    report: ApplyReport,
) -> list[Reading]:
    records = resolve_records(doc, spec.recordsPointer)
    fields = []
    for mapping in spec.mappings:
        metric = metrics.get(mapping.metricId)
        if metric is None or not usable_metric(metric) or mapping.metricId not in on_type:
            report.metricsSkippedNotOnTtd.append(mapping.metricId)
            continue
        key, getter = selector_getter(mapping.source, doc)
        fields.append(
            compile_field(
                metric, key, getter, transform=mapping.transform, enum_map=mapping.enumMap, default=mapping.default
            )
        )
    _key, ts_getter = selector_getter(spec.timestamp.source, doc)
    parse_ts = not_after(TIMESTAMP_PARSERS[spec.timestamp.format.value], min(MAX_TIMESTAMP_MS, latest_accepted_ms()))
    merged: dict[int, dict[str, Any]] = {}
    missing: dict[str, int] = {}
    invalid = report.fieldsInvalid
    for index, rec in enumerate(records):
        raw_ts = ts_getter(rec)
        if raw_ts is MISSING or raw_ts is None:
            report.skip(index, "missing_timestamp")
            continue
        ts = parse_ts(raw_ts)
        if ts is None:
            report.skip(index, "invalid_timestamp", raw_ts, with_value=True)
            continue
        values: dict[str, Any] = {}
        for field in fields:
            raw = field.getter(rec)
            if raw is MISSING or raw is None:
                if field.default is MISSING:
                    missing[field.metric_id] = missing.get(field.metric_id, 0) + 1
                elif field.default is BAD_DEFAULT:
                    key = (field.metric_id, INVALID_DEFAULT)
                    invalid[key] = invalid.get(key, 0) + 1
                else:
                    values[field.metric_id] = field.default
                continue
            try:
                values[field.metric_id] = field.conv(raw)
            except InvalidValueError as exc:
                invalid[(field.metric_id, exc.reason)] = invalid.get((field.metric_id, exc.reason), 0) + 1
        if not values:
            report.skip(index, "no_metric_values")
            continue
        merged.setdefault(ts, {}).update(values)
    finish(report, merged, missing, len(records))
    return list(merged.items())
