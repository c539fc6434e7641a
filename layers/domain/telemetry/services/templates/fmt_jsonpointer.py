"""``ThingData`` + ``JsonPointer``: pointers into each record (or the whole document) → readings."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from telemetry.errors import PayloadTooLarge
from telemetry.models.metrics import MetricDefinition
from telemetry.models.templates import JsonPointerSpec, Selector, SelectorScope
from telemetry.services.templates.engine import (
    Field,
    compile_field,
    map_records,
    records_not_array,
    usable_metric,
)
from telemetry.services.templates.limits import MAX_RECORDS
from telemetry.services.templates.report import ApplyReport, Reading
from telemetry.services.templates.values import (
    MISSING,
    TIMESTAMP_PARSERS,
    Getter,
    make_getter,
    pointer_parts,
    single_key,
)


def resolve_records(doc: Any, records_pointer: str | None, limit: int = MAX_RECORDS) -> list[Any]:
    """The candidate records: the array at ``records_pointer``, or ``[doc]`` when omitted/empty."""
    if not records_pointer:
        return [doc]
    found = make_getter(pointer_parts(records_pointer))(doc)
    if type(found) is not list:
        raise records_not_array(records_pointer, found)
    if len(found) > limit:
        raise PayloadTooLarge(f"payload has {len(found)} records at {records_pointer!r}; at most {limit} per request")
    return found


def selector_getter(selector: Selector, doc: Any) -> tuple[str | None, Getter]:
    """``(key, getter)`` for a selector; a document-scope selector is resolved once, here."""
    parts = pointer_parts(selector.pointer)
    if selector.scope is SelectorScope.document:
        value = make_getter(parts)(doc)
        return None, lambda _rec: value
    return single_key(parts), make_getter(parts)


def apply_jsonpointer(
    spec: JsonPointerSpec,
    doc: Any,
    metrics: Mapping[str, MetricDefinition],
    on_type: set[str],
    report: ApplyReport,
) -> list[Reading]:
    records = resolve_records(doc, spec.recordsPointer)
    fields: list[Field] = []
    for mapping in spec.mappings:
        metric = metrics.get(mapping.metricId)
        if metric is None or not usable_metric(metric) or mapping.metricId not in on_type:
            report.metricsSkippedNotOnTtd.append(mapping.metricId)
            continue
        key, getter = selector_getter(mapping.source, doc)
        fields.append(
            compile_field(
                metric,
                key,
                getter,
                transform=mapping.transform,
                enum_map=mapping.enumMap,
                default=mapping.default,
            )
        )
    ts_key, ts_getter = selector_getter(spec.timestamp.source, doc)
    parse_ts = TIMESTAMP_PARSERS[spec.timestamp.format.value]
    return map_records(records, ts_key, ts_getter, parse_ts, fields, report)


__all__ = ["MISSING", "apply_jsonpointer", "resolve_records", "selector_getter"]
