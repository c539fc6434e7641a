"""Provider records → readings of an integration's things, through an ``Integrations`` template.

The template (``IntegrationsJsonPointerSpec``, docs/integrations.md "Integrations templates") is a
list of rules. Each record is offered to the rules in order; the first whose ``recordType`` and
``match`` fit maps it: its ``thing`` pointer names the external id (resolved to a thing through the
integration's resources), and the rest is a ThingData JsonPointer mapping run by the SAME engine
(:func:`telemetry.services.templates.engine.map_records`: timestamps with the now + 24 h rule,
transform, enumMap, default, validRange, the report). Records of one thing at one time are merged
into one row (a later rule, and within a rule a later record, wins per metric), because the store
keys a row by thing + time.

A record that fails (no rule, no or an unmapped external id, a bad timestamp, no values) is
reported and skipped; the rest of the page goes through.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from telemetry.errors import FieldError, ValidationFailed
from telemetry.models.metrics import MetricDefinition
from telemetry.models.readings import SeriesKind, SeriesRows
from telemetry.models.templates import IntegrationRule, IntegrationsJsonPointerSpec, Scalar, Template, TemplateStatus
from telemetry.models.types import DataType
from telemetry.ports.integrations import ProviderRecord
from telemetry.services.templates import ApplyReport, Reading, parsed_spec
from telemetry.services.templates.engine import Field, Payload, compile_field, parse_payload, usable_metric
from telemetry.services.templates.engine import map_records as map_engine_records
from telemetry.services.templates.fmt_jsonpointer import selector_getter
from telemetry.services.templates.limits import MAX_RECORDS
from telemetry.services.templates.values import MISSING, TIMESTAMP_PARSERS, Getter, make_getter, pointer_parts

#: ``recordsSkipped`` lists at most this many entries; ``recordsSkippedByReason`` counts them all
MAX_SKIPS_LISTED = 100

# recordsSkipped reasons of this target (the engine adds missing_timestamp, invalid_timestamp,
# no_metric_values)
NO_MATCHING_RULE = "no_matching_rule"
MISSING_THING = "missing_thing"
INVALID_THING = "invalid_thing"
UNMAPPED_THING = "unmapped_thing"


@dataclass(frozen=True, slots=True)
class ThingTarget:
    """Where an external id's readings go: the thing and the metrics of its active type."""

    thing_id: str
    metrics: Mapping[str, MetricDefinition]


@dataclass(slots=True)
class MappedPage:
    """One page mapped: rows per thing (kind THING, series = thing id, keyed by metric id) + report."""

    groups: list[SeriesRows]
    report: ApplyReport


def map_records(
    template: Template,
    records: Sequence[ProviderRecord],
    targets: Mapping[str, ThingTarget],
    version: int,
) -> MappedPage:
    """Map one page of provider records onto the things ``targets`` (external id → thing) names.

    ``version`` is the rows' acceptance version (``services.ingest.accept_version()``). Raises
    ``ValidationFailed`` only for a template that is not a usable Integrations template.
    """

    def resolve(external_id: str) -> tuple[str, Mapping[str, MetricDefinition]] | None:
        target = targets.get(external_id)
        return None if target is None else (target.thing_id, target.metrics)

    report, rows, types = _map(template, records, resolve, preview_only=False)
    groups = [
        SeriesRows(SeriesKind.THING, thing_id, version, types[thing_id], list(by_time.items()))
        for thing_id, by_time in rows.items()
        if by_time
    ]
    return MappedPage(groups=groups, report=report)


def preview_records(
    template: Template, records: Sequence[ProviderRecord], metrics: Mapping[str, MetricDefinition]
) -> tuple[ApplyReport, dict[str, list[Reading]]]:
    """The dry run (``POST /v2/templates/{id}/test``): no integration, no thing.

    Every external id is its own target and every mapped metric counts as on its type; the
    readings are keyed by external id.
    """
    report, rows, _types = _map(template, records, lambda ext: (ext, metrics), preview_only=True)
    return report, {ext: list(by_time.items()) for ext, by_time in rows.items() if by_time}


def sample_records(payload: Payload) -> list[ProviderRecord]:
    """The dry-run body ``{"recordType": "StatusData", "records": [{...}, ...]}`` as provider records.

    Each record is one provider record exactly as the provider sends it (a JSON object); at most
    :data:`MAX_RECORDS` per request, and the body at most the template payload limit.
    """
    body = parse_payload(payload)
    if type(body) is not dict:
        raise ValidationFailed.single((), 'the body must be {"recordType": "...", "records": [...]}')
    errors: list[FieldError] = []
    record_type = body.get("recordType")
    if type(record_type) is not str or not 1 <= len(record_type) <= 128:
        errors.append(
            FieldError(("recordType",), "must be the provider's record type, a string of 1 to 128 characters")
        )
    records = body.get("records")
    if type(records) is not list:
        errors.append(FieldError(("records",), "must be an array of provider records (JSON objects)"))
        records = []
    elif len(records) > MAX_RECORDS:
        errors.append(FieldError(("records",), f"{len(records)} records; at most {MAX_RECORDS} per request"))
    errors += [
        FieldError(("records", i), "must be a provider record (a JSON object)")
        for i, rec in enumerate(records)
        if type(rec) is not dict
    ][:20]
    unknown = sorted(set(body) - {"recordType", "records"})
    errors += [FieldError((name,), "unknown field") for name in unknown[:20]]
    if errors:
        raise ValidationFailed(errors)
    return [ProviderRecord(str(record_type), rec) for rec in records]


# --------------------------------------------------------------------------- the mapping


Resolver = Callable[[str], "tuple[str, Mapping[str, MetricDefinition]] | None"]


@dataclass(slots=True)
class _Rule:
    index: int
    spec: IntegrationRule
    match: Getter | None
    accept: Callable[[Any], bool]
    thing: Getter
    ts_key: str | None
    ts_getter: Getter


@dataclass(slots=True)
class _TypePlan:
    """The rules of one record type. ``table`` (value → first rule taking it) is set when every
    rule matches string values at one shared pointer (``key``), as one rule per Geotab diagnostic
    does: then a record costs one lookup instead of one match per rule."""

    rules: list[_Rule]
    key: Getter | None = None
    table: dict[str, _Rule] | None = None


def _plans(spec: IntegrationsJsonPointerSpec) -> dict[str, _TypePlan]:
    plans: dict[str, _TypePlan] = {}
    for r, rule_spec in enumerate(spec.rules):
        plans.setdefault(rule_spec.recordType, _TypePlan([])).rules.append(_compile_rule(r, rule_spec))
    for plan in plans.values():
        matches = [rule.spec.match for rule in plan.rules]
        if all(m is not None for m in matches) and len({m.pointer for m in matches if m is not None}) == 1:
            values = [[m.equals] if m.in_ is None else m.in_ for m in matches if m is not None]
            if all(type(v) is str for vs in values for v in vs):
                table: dict[str, _Rule] = {}
                for rule, vs in zip(plan.rules, values, strict=True):
                    for v in vs:
                        table.setdefault(str(v), rule)
                plan.key, plan.table = plan.rules[0].match, table
    return plans


def _map(
    template: Template, records: Sequence[ProviderRecord], resolve: Resolver, *, preview_only: bool
) -> tuple[ApplyReport, dict[str, dict[int, dict[str, Any]]], dict[str, dict[str, DataType]]]:
    spec = _spec(template)
    report = ApplyReport(
        previewOnly=preview_only,
        templateId=template.id,
        templateRevision=template.revision,
        recordsSkippedByReason={},
    )
    skips = _Skips(report)
    plans = _plans(spec)

    # 1. select: each record to the first rule that takes it, bucketed by (rule, external id)
    buckets: dict[tuple[int, str], tuple[list[int], list[Any]]] = {}
    for index, record in enumerate(records):
        plan = plans.get(record.record_type)
        if plan is None:
            skips.add(index, NO_MATCHING_RULE)
            continue
        data: Any = record.data
        if type(data) is not dict:
            data = dict(data)
        chosen: _Rule | None = None
        if plan.table is not None:
            value = plan.key(data)  # type: ignore[misc]  # set together with table
            if type(value) is str:
                chosen = plan.table.get(value)
        else:
            for rule in plan.rules:
                if rule.match is None or rule.accept(rule.match(data)):
                    chosen = rule
                    break
        if chosen is None:
            skips.add(index, NO_MATCHING_RULE)
            continue
        ext = chosen.thing(data)
        if type(ext) is not str:
            if ext is MISSING or ext is None:
                skips.add(index, MISSING_THING)
                continue
            if type(ext) is not int:
                skips.add(index, INVALID_THING, ext, with_value=True)
                continue
            ext = str(ext)
        bucket = buckets.get((chosen.index, ext))
        if bucket is None:
            bucket = buckets[(chosen.index, ext)] = ([], [])
        bucket[0].append(index)
        bucket[1].append(data)

    # 2. map each bucket through the ThingData JsonPointer engine, merge rows per thing + time
    rows: dict[str, dict[int, dict[str, Any]]] = {}
    types: dict[str, dict[str, DataType]] = {}
    not_on_type: dict[str, None] = {}
    compiled: dict[tuple[int, tuple[int, ...]], list[Field]] = {}
    series_metrics: dict[str, Mapping[str, MetricDefinition]] = {}
    rules = {rule.index: rule for plan in plans.values() for rule in plan.rules}
    for (r, ext), (indexes, datas) in sorted(buckets.items(), key=lambda item: item[0][0]):
        resolved = resolve(ext)
        if resolved is None:
            for index in indexes:
                skips.add(index, UNMAPPED_THING, ext, with_value=True)
            continue
        series, metrics = resolved
        rule = rules[r]
        # things of one type share their compiled fields (keyed by the metric definitions they see)
        seen = (r, tuple(id(metrics.get(m.metricId)) for m in rule.spec.mappings))
        fields = compiled.get(seen)
        if fields is None:
            fields = compiled[seen] = _fields(rule.spec, metrics, not_on_type)
        part = ApplyReport(previewOnly=preview_only, templateId=template.id, templateRevision=template.revision)
        parse_ts = TIMESTAMP_PARSERS[rule.spec.timestamp.format.value]
        readings = map_engine_records(datas, rule.ts_key, rule.ts_getter, parse_ts, fields, part)
        for entry in part.recordsSkipped:
            skips.add(indexes[entry["index"]], entry["reason"], entry.get("value"), with_value="value" in entry)
        for key, count in part.fieldsInvalid.items():
            report.fieldsInvalid[key] = report.fieldsInvalid.get(key, 0) + count
        for mid, count in part.fieldsSkippedMissing.items():
            report.fieldsSkippedMissing[mid] = report.fieldsSkippedMissing.get(mid, 0) + count
        if not readings:
            continue
        merged = rows.setdefault(series, {})
        series_metrics[series] = metrics
        for ts, values in readings:
            existing = merged.get(ts)
            if existing is None:
                merged[ts] = values
            else:
                existing.update(values)

    for series, by_time in rows.items():  # the types of the metrics written, as template_apply hoists them
        defs, series_types = series_metrics[series], types.setdefault(series, {})
        for values in by_time.values():
            for mid in values:
                if mid not in series_types:
                    series_types[mid] = defs[mid].dataType
    report.recordsParsed = len(records)
    report.readingsWritten = sum(map(len, rows.values()))
    report.metricValuesWritten = sum(len(values) for by_time in rows.values() for values in by_time.values())
    report.metricsSkippedNotOnTtd = list(not_on_type)
    skips.finish()
    return report, rows, types


def _spec(template: Template) -> IntegrationsJsonPointerSpec:
    if template.status is TemplateStatus.deleted:
        raise ValidationFailed.single(("templateId",), "the template is deleted", reason="template-deleted")
    spec = parsed_spec(template)
    if not isinstance(spec, IntegrationsJsonPointerSpec):
        raise ValidationFailed.single(
            ("templateId",),
            f"template {template.id} targets {template.target.value}; an integration needs an Integrations template",
            reason="wrong-target",
        )
    return spec


def _compile_rule(index: int, rule: IntegrationRule) -> _Rule:
    match: Getter | None = None
    accept: Callable[[Any], bool] = _always
    if rule.match is not None:
        match = _getter(rule.match.pointer)
        wanted = [rule.match.equals] if rule.match.in_ is None else rule.match.in_
        accept = _matcher([v for v in wanted if v is not None])
    ts_key, ts_getter = selector_getter(rule.timestamp.source, None)
    return _Rule(index, rule, match, accept, _getter(rule.thing.pointer), ts_key, ts_getter)


def _getter(pointer: str) -> Getter:
    """``make_getter``, with an inlined path for the provider records' usual shape (two object keys)."""
    parts = pointer_parts(pointer)
    general = make_getter(parts)
    if len(parts) != 2 or any(p.isdigit() for p in parts):
        return general
    outer, inner = parts

    def get2(node: Any) -> Any:
        if type(node) is dict:
            child = node.get(outer, MISSING)
            if type(child) is dict:
                return child.get(inner, MISSING)
        return general(node)

    return get2


def _always(_value: Any) -> bool:
    return True


def _json_key(value: Any) -> tuple[str, Any] | None:
    """Equality by JSON value: ``1 == 1.0``, but neither is ``true`` or ``"1"``."""
    t = type(value)
    if t is bool:
        return ("b", value)
    if t is int or t is float:
        return ("n", float(value))
    if t is str:
        return ("s", value)
    return None  # null, objects and arrays never match


def _matcher(values: Sequence[Scalar]) -> Callable[[Any], bool]:
    strings = frozenset(v for v in values if type(v) is str)
    others = frozenset(_json_key(v) for v in values if type(v) is not str)
    if not others:

        def accept_str(raw: Any) -> bool:
            return type(raw) is str and raw in strings

        return accept_str

    def accept(raw: Any) -> bool:
        if type(raw) is str:
            return raw in strings
        return _json_key(raw) in others

    return accept


def _fields(
    rule: IntegrationRule, metrics: Mapping[str, MetricDefinition], not_on_type: dict[str, None]
) -> list[Field]:
    fields: list[Field] = []
    for mapping in rule.mappings:
        metric = metrics.get(mapping.metricId)
        if metric is None or not usable_metric(metric):
            not_on_type[mapping.metricId] = None
            continue
        key, getter = selector_getter(mapping.source, None)
        fields.append(
            compile_field(
                metric, key, getter, transform=mapping.transform, enum_map=mapping.enumMap, default=mapping.default
            )
        )
    return fields


class _Skips:
    """``recordsSkipped`` (the first :data:`MAX_SKIPS_LISTED`, in record order) and the counts by reason."""

    def __init__(self, report: ApplyReport) -> None:
        self.report = report
        self.entries: list[tuple[int, str, Any, bool]] = []
        self.counts: dict[str, int] = {}

    def add(self, index: int, reason: str, value: Any = None, *, with_value: bool = False) -> None:
        self.counts[reason] = self.counts.get(reason, 0) + 1
        self.entries.append((index, reason, value, with_value))

    def finish(self) -> None:
        self.entries.sort(key=lambda e: e[0])
        for index, reason, value, with_value in self.entries[:MAX_SKIPS_LISTED]:
            self.report.skip(index, reason, value, with_value=with_value)
        self.report.recordsSkippedByReason = dict(sorted(self.counts.items()))
