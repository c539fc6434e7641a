"""The template engine: validate a template, apply it to a payload, dry-run it.

Pure domain: no HTTP, no AWS. See ``docs/templates.md`` for the formats, limits and report.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import ValidationError

from telemetry.errors import FieldError, NotSupported, ValidationFailed
from telemetry.models.metrics import MetricDefinition
from telemetry.models.templates import (
    DbcSpec,
    IntegrationsJsonPointerSpec,
    JavaScriptHandlerSpec,
    JsonPointerSpec,
    Template,
    TemplateStatus,
    TransactionsJsonPointerSpec,
    spec_model_for,
)
from telemetry.services.templates.engine import Payload, parse_payload
from telemetry.services.templates.errors import TemplateExecutionFailed
from telemetry.services.templates.fmt_dbc import apply_dbc
from telemetry.services.templates.fmt_javascript import apply_javascript
from telemetry.services.templates.fmt_jsonpointer import apply_jsonpointer
from telemetry.services.templates.limits import (
    MAX_DBC_FRAMES,
    MAX_MAPPINGS,
    MAX_PAYLOAD_BYTES,
    MAX_RECORDS,
    MAX_SPEC_BYTES,
)
from telemetry.services.templates.report import ApplyReport, ApplyResult, Reading, Transaction
from telemetry.services.templates.transactions import apply_transactions
from telemetry.services.templates.validation import validate_spec, validate_template

__all__ = [
    "MAX_DBC_FRAMES",
    "MAX_MAPPINGS",
    "MAX_PAYLOAD_BYTES",
    "MAX_RECORDS",
    "MAX_SPEC_BYTES",
    "ApplyReport",
    "ApplyResult",
    "Reading",
    "TemplateExecutionFailed",
    "Transaction",
    "apply_template",
    "parsed_spec",
    "test_template",
    "validate_spec",
    "validate_template",
]


def apply_template(
    template: Template,
    payload: Payload,
    metrics: Mapping[str, MetricDefinition],
    thing_metric_ids: set[str] | frozenset[str],
    *,
    preview_only: bool = False,
) -> ApplyResult:
    """Map ``payload`` (raw body bytes/str, or an already parsed JSON value) through ``template``.

    ``metrics``: metric id → definition for the template's metrics; ``thing_metric_ids``: the ids on
    the Thing's active Thing Type Definition. Structural problems raise (``MalformedRequest``,
    ``PayloadTooLarge``, ``ValidationFailed`` with reason ``records-not-array``,
    :class:`TemplateExecutionFailed`); per-record/per-field problems land in the report.
    """
    if template.status is TemplateStatus.deleted:
        raise ValidationFailed.single(("templateId",), "the template is deleted", reason="template-deleted")
    spec = parsed_spec(template)
    if isinstance(spec, IntegrationsJsonPointerSpec):
        raise ValidationFailed.single(
            ("templateId",),
            f"template {template.id} targets Integrations: it maps provider records of an integration"
            " (telemetry.services.integrations.mapping), not a payload onto one thing",
            reason="wrong-target",
        )
    doc = parse_payload(payload)
    report = ApplyReport(previewOnly=preview_only, templateId=template.id, templateRevision=template.revision)
    on_type = set(thing_metric_ids)
    readings: list[Reading] = []
    transactions: list[Transaction] = []
    if isinstance(spec, TransactionsJsonPointerSpec):
        transactions = apply_transactions(spec, doc, report)
    elif isinstance(spec, JsonPointerSpec):
        readings = apply_jsonpointer(spec, doc, metrics, on_type, report)
    elif isinstance(spec, JavaScriptHandlerSpec):
        context = {"templateId": template.id, "templateRevision": template.revision, "metricIds": spec.metricIds}
        readings = apply_javascript(spec, doc, metrics, on_type, report, context)
    elif isinstance(spec, DbcSpec):
        readings = apply_dbc(spec, doc, metrics, on_type, report)
    else:  # pragma: no cover - spec_model_for only knows the five above
        raise NotSupported(f"{template.target.value} + {template.format.value} templates are not supported yet")
    return ApplyResult(readings=readings, report=report, transactions=transactions)


def test_template(template: Template, payload: Payload, metrics: Mapping[str, MetricDefinition]) -> ApplyResult:
    """Dry run (``POST /v2/templates/{id}/test``): no Thing, so every mapped metric counts as on-type."""
    return apply_template(template, payload, metrics, _mapped_metric_ids(parsed_spec(template)), preview_only=True)


test_template.__test__ = False  # type: ignore[attr-defined]  # not a pytest test despite the name


def _mapped_metric_ids(spec: Any) -> set[str]:
    if isinstance(spec, JavaScriptHandlerSpec):
        return set(spec.metricIds)
    if isinstance(spec, JsonPointerSpec | DbcSpec):
        return {m.metricId for m in spec.mappings}
    return set()


def parsed_spec(template: Template) -> Any:
    """The template's spec as its spec model (a stored spec was validated when written)."""
    model = spec_model_for(template.target, template.format)
    if model is None:
        raise NotSupported(f"{template.target.value} + {template.format.value} templates are not supported yet")
    try:
        return model.model_validate(template.spec)
    except ValidationError as exc:  # a stored template is validated at write time: corrupt data
        errors = [FieldError(("spec", *err["loc"]), err["msg"]) for err in exc.errors()]
        raise ValidationFailed(errors, reason="invalid-spec") from None
