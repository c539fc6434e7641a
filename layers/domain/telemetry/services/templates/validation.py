"""Create/update-time validation of a template (every rule of the spec's "Validation and limits").

All problems are collected and raised together as one :class:`ValidationFailed`. Each field error
has a rule reason; they are listed, aligned with ``errors``, in ``exc.extra["reasons"]``, and
``exc.reason`` is that reason when every error breaks the same rule (else ``invalid-template``).
Only ``JsonPointer`` has a handler for the ``Integrations`` target (``unsupported-format`` otherwise).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import orjson
from pydantic import BaseModel, ValidationError

from telemetry.errors import FieldError, ValidationFailed
from telemetry.models.metrics import CoercionError, DataType, MetricDefinition, coerce_value
from telemetry.models.templates import (
    DbcSpec,
    IntegrationsJsonPointerSpec,
    JavaScriptHandlerSpec,
    JsonPointerSpec,
    Selector,
    SelectorScope,
    Template,
    TemplateCreate,
    TemplateFormat,
    TemplateTarget,
    TemplateUpdate,
    TransactionSelector,
    TransactionsJsonPointerSpec,
    Transform,
    spec_model_for,
)
from telemetry.services.templates.fmt_dbc import DbcError, load_dbc, resolve_signal
from telemetry.services.templates.limits import MAX_MAPPINGS, MAX_SPEC_BYTES
from telemetry.services.templates.values import pointer_error

Path = tuple[str | int, ...]


class _Errors:
    def __init__(self) -> None:
        self.items: list[tuple[FieldError, str]] = []

    def add(self, path: Sequence[str | int], message: str, reason: str) -> None:
        self.items.append((FieldError(tuple(path), message), reason))

    def raise_if_any(self) -> None:
        if not self.items:
            return
        reasons = [r for _, r in self.items]
        exc = ValidationFailed(
            [e for e, _ in self.items], reason=reasons[0] if len(set(reasons)) == 1 else "invalid-template"
        )
        exc.extra["reasons"] = reasons
        raise exc


def validate_template(
    candidate: TemplateCreate | TemplateUpdate,
    metrics: Mapping[str, MetricDefinition],
    existing: Template | None = None,
) -> None:
    """Validate a create, or an update against the ``existing`` template (whose target/format apply).

    ``metrics`` maps metric id → definition for (at least) every id the spec mentions; a missing key
    means the metric does not exist.
    """
    if isinstance(candidate, TemplateUpdate):
        if existing is None:
            raise ValueError("validating a TemplateUpdate needs the existing template")
        if candidate.spec is None:
            return
        target, fmt, spec = existing.target, existing.format, candidate.spec
    else:
        target, fmt, spec = candidate.target, candidate.format, candidate.spec
    validate_spec(target, fmt, spec, metrics)


def validate_spec(
    target: TemplateTarget, fmt: TemplateFormat, spec: dict[str, Any], metrics: Mapping[str, MetricDefinition]
) -> BaseModel:
    """Validate a raw spec for a target/format pair; returns the parsed spec model."""
    errors = _Errors()
    model = spec_model_for(target, fmt)
    if model is None:
        errors.add(("format",), f"format {fmt.value} has no handler for target {target.value}", "unsupported-format")
        errors.raise_if_any()
    assert model is not None
    size = len(orjson.dumps(spec))
    if size >= MAX_SPEC_BYTES:
        errors.add(("spec",), f"serialized spec is {size} bytes; it must be under {MAX_SPEC_BYTES}", "spec-too-large")
    try:
        parsed = model.model_validate(spec)
    except ValidationError as exc:
        for err in exc.errors():
            loc = tuple(err["loc"])
            reason = "invalid-timestamp-format" if loc[-2:] == ("timestamp", "format") else "invalid-spec"
            errors.add(("spec", *loc), err["msg"], reason)
        errors.raise_if_any()
    if isinstance(parsed, JsonPointerSpec):
        _check_jsonpointer(parsed, metrics, errors)
    elif isinstance(parsed, JavaScriptHandlerSpec):
        _check_javascript(parsed, metrics, errors)
    elif isinstance(parsed, DbcSpec):
        _check_dbc(parsed, metrics, errors)
    elif isinstance(parsed, TransactionsJsonPointerSpec):
        _check_transactions(parsed, errors)
    elif isinstance(parsed, IntegrationsJsonPointerSpec):
        _check_integrations(parsed, metrics, errors)
    errors.raise_if_any()
    return parsed


# --------------------------------------------------------------------------- per format


def _pointer(path: Path, pointer: str | None, errors: _Errors) -> None:
    if pointer is None:
        return
    message = pointer_error(pointer)
    if message:
        errors.add(path, message, "invalid-pointer")


def _count(path: Path, n: int, errors: _Errors) -> None:
    if n > MAX_MAPPINGS:
        errors.add(path, f"{n} mappings; a template can have at most {MAX_MAPPINGS}", "too-many-mappings")
    elif n == 0:
        errors.add(path, "at least one mapping is required", "no-mappings")


def _check_jsonpointer(spec: JsonPointerSpec, metrics: Mapping[str, MetricDefinition], errors: _Errors) -> None:
    _pointer(("spec", "recordsPointer"), spec.recordsPointer, errors)
    _pointer(("spec", "timestamp", "source", "pointer"), spec.timestamp.source.pointer, errors)
    _count(("spec", "mappings"), len(spec.mappings), errors)
    seen: set[str] = set()
    for i, m in enumerate(spec.mappings):
        base: Path = ("spec", "mappings", i)
        _pointer((*base, "source", "pointer"), m.source.pointer, errors)
        _check_metric_mapping(base, m.metricId, m.transform, m.enumMap, m.default, metrics, seen, errors)


def _check_integrations(
    spec: IntegrationsJsonPointerSpec, metrics: Mapping[str, MetricDefinition], errors: _Errors
) -> None:
    """Each rule like a ThingData JsonPointer spec (per rule: no metric twice), plus its selectors.

    The 100-mapping limit counts every rule's mappings together. Selectors are record-scoped:
    every provider record is its own document, so ``scope: document`` is refused.
    """
    total = sum(len(rule.mappings) for rule in spec.rules)
    if total > MAX_MAPPINGS:
        errors.add(
            ("spec", "rules"),
            f"{total} mappings over all rules; a template can have at most {MAX_MAPPINGS}",
            "too-many-mappings",
        )
    for r, rule in enumerate(spec.rules):
        base: Path = ("spec", "rules", r)
        if rule.match is not None:
            _pointer((*base, "match", "pointer"), rule.match.pointer, errors)
        _pointer((*base, "thing", "pointer"), rule.thing.pointer, errors)
        _record_scoped((*base, "timestamp", "source"), rule.timestamp.source, errors)
        if not rule.mappings:
            errors.add((*base, "mappings"), "at least one mapping is required", "no-mappings")
        seen: set[str] = set()
        for i, m in enumerate(rule.mappings):
            at: Path = (*base, "mappings", i)
            _record_scoped((*at, "source"), m.source, errors)
            _check_metric_mapping(at, m.metricId, m.transform, m.enumMap, m.default, metrics, seen, errors)


def _record_scoped(path: Path, selector: Selector, errors: _Errors) -> None:
    _pointer((*path, "pointer"), selector.pointer, errors)
    if selector.scope is not SelectorScope.record:
        errors.add(
            (*path, "scope"),
            "an Integrations selector reads the provider record itself; only scope 'record' applies",
            "invalid-scope",
        )


def _check_javascript(spec: JavaScriptHandlerSpec, metrics: Mapping[str, MetricDefinition], errors: _Errors) -> None:
    _count(("spec", "metricIds"), len(spec.metricIds), errors)
    seen: set[str] = set()
    for i, mid in enumerate(spec.metricIds):
        _check_metric_mapping(("spec", "metricIds", i), mid, None, None, None, metrics, seen, errors)
    problem = _js_syntax_error(spec.source)
    if problem:
        errors.add(("spec", "source"), problem, "invalid-script")


def _js_syntax_error(source: str) -> str | None:
    """Compile (not run) the source in a throw-away isolate; the SyntaxError message if any."""
    from py_mini_racer import JSEvalException, MiniRacer

    from telemetry.services.templates.fmt_javascript import _js_message, _js_string

    with MiniRacer() as ctx:
        try:
            ctx.eval(f"new Function({_js_string(source)}); true", timeout_sec=1.0, max_memory=64 * 1024 * 1024)
        except JSEvalException as exc:
            return _js_message(exc)
    return None


def _check_dbc(spec: DbcSpec, metrics: Mapping[str, MetricDefinition], errors: _Errors) -> None:
    _pointer(("spec", "recordsPointer"), spec.recordsPointer, errors)
    _count(("spec", "mappings"), len(spec.mappings), errors)
    try:
        db = load_dbc(spec.dbc)
    except DbcError as exc:
        errors.add(("spec", "dbc"), f"DBC does not parse: {exc}", "invalid-dbc")
        db = None
    seen: set[str] = set()
    for i, m in enumerate(spec.mappings):
        base: Path = ("spec", "mappings", i)
        if db is not None:
            resolved = resolve_signal(db, m.signal)
            if isinstance(resolved, str):
                errors.add((*base, "signal"), resolved, "unknown-signal")
        _check_metric_mapping(base, m.metricId, m.transform, m.enumMap, m.default, metrics, seen, errors)


def _check_transactions(spec: TransactionsJsonPointerSpec, errors: _Errors) -> None:
    _pointer(("spec", "recordsPointer"), spec.recordsPointer, errors)
    _pointer(("spec", "timestamp", "source", "pointer"), spec.timestamp.source.pointer, errors)
    selectors: list[tuple[Path, TransactionSelector | None]] = [
        (("spec", name), getattr(spec, name)) for name in ("id", "type", "amount", "currency", "quantity")
    ]
    selectors += [(("spec", "attributes", name), sel) for name, sel in spec.attributes.items()]
    for path, sel in selectors:
        if sel is not None:
            _pointer((*path, "pointer"), sel.pointer, errors)
    if spec.amount is None and spec.quantity is None:
        errors.add(
            ("spec",), "a transaction needs amount (with currency) and/or quantity", "missing-amount-or-quantity"
        )
    if spec.amount is not None and spec.currency is None:
        errors.add(("spec", "currency"), "currency is required when amount is mapped", "currency-required")


# --------------------------------------------------------------------------- metric rules


def _check_metric_mapping(
    base: Path,
    metric_id: str,
    transform: Transform | None,
    enum_map: Mapping[str, int] | None,
    default: Any,
    metrics: Mapping[str, MetricDefinition],
    seen: set[str],
    errors: _Errors,
) -> None:
    id_path = (*base, "metricId") if base[-2] != "metricIds" else base
    if metric_id in seen:
        errors.add(id_path, f"metric {metric_id} is mapped more than once", "duplicate-metric")
    seen.add(metric_id)
    if transform is not None and enum_map is not None:
        errors.add(base, "transform and enumMap are mutually exclusive", "transform-and-enum-map")
    metric = metrics.get(metric_id)
    if metric is None:
        errors.add(id_path, f"metric {metric_id} does not exist", "unknown-metric")
        return
    if metric.deleted:
        errors.add(id_path, f"metric {metric_id} is deleted", "metric-deleted")
        return
    if metric.dataType is DataType.Json:
        errors.add(
            id_path,
            f"metric {metric_id} is a Json metric; templates do not support Json metrics yet",
            "json-metric-unsupported",
        )
        return
    if transform is not None and not metric.is_numeric:
        errors.add(
            (*base, "transform"),
            f"transform only applies to numeric metrics; {metric_id} is "
            f"{'an enum-shaped Int' if metric.is_enum else metric.dataType.value}",
            "transform-not-numeric",
        )
    if enum_map is not None:
        if not metric.is_enum:
            errors.add(
                (*base, "enumMap"),
                f"enumMap only applies to enum-shaped Int metrics; {metric_id} is not",
                "enum-map-not-enum",
            )
        else:
            codes = {ev.code for ev in metric.enumValues or ()}
            for label, code in enum_map.items():
                if code not in codes:
                    errors.add(
                        (*base, "enumMap", label),
                        f"{code} is not a code of {metric_id}'s enum",
                        "enum-map-unknown-code",
                    )
    if default is not None:
        try:
            coerce_value(metric, default)
        except CoercionError as exc:
            errors.add((*base, "default"), f"default is not a valid {metric.dataType.value}: {exc}", "invalid-default")
