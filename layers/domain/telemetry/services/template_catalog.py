"""Templates as stored resources: create, read, list, update (optimistic revisions), soft delete.

The other two rooms of the templates product build on this one: :mod:`template_apply` (dry run
and apply onto a thing) and :mod:`template_transactions` (the Transactions target). The facade
that handlers call is :class:`telemetry.services.template_service.TemplateService`.
"""

from __future__ import annotations

from typing import Any

from telemetry.body import load_object
from telemetry.clock import iso_from_ms, now_ms
from telemetry.errors import Conflict, FieldError, NotFound, ValidationFailed
from telemetry.ids import new_id
from telemetry.limits import DEFAULT_MAX_BODY_BYTES
from telemetry.models.auth import Principal
from telemetry.models.base import Page
from telemetry.models.metrics import MetricDefinition
from telemetry.models.templates import (
    TEMPLATE_ID_PREFIX,
    Template,
    TemplateCreate,
    TemplateFormat,
    TemplateStatus,
    TemplateTarget,
    TemplateUpdate,
)
from telemetry.repositories.definitions import DefinitionsRepository
from telemetry.repositories.templates import TemplatesRepository
from telemetry.services.auth import require
from telemetry.services.templates import ApplyResult, Reading
from telemetry.services.templates import validate_template as _validate
from telemetry.validation import parse

#: optimistic-update attempts of one PUT/DELETE before a 409
UPDATE_ATTEMPTS = 5
#: metric ids looked up for one validation (a spec can name at most 100; more is refused anyway)
MAX_METRIC_LOOKUPS = 500


class TemplateDeleted(NotFound):
    """Apply or test of a deleted template: 404, with its own problem type."""

    reason = "template-deleted"
    title = "Template deleted"


class TemplateDeletedConflict(Conflict):
    """An update of a deleted template: 409 (the template exists, in a state that refuses it)."""

    reason = "template-deleted"
    title = "Template deleted"


def reading_out(reading: Reading) -> dict[str, Any]:
    ts, values = reading
    return {"timestamp": ts, "time": iso_from_ms(ts), "metrics": values}


def transaction_out(tx: dict[str, Any]) -> dict[str, Any]:
    """A stored/produced transaction as the API returns it: ``timestamp`` (ms) and ``time`` (ISO)."""
    out: dict[str, Any] = {"id": tx["id"], "type": tx["type"], "timestamp": tx["time"], "time": iso_from_ms(tx["time"])}
    for name in ("amount", "currency", "quantity"):
        if tx.get(name) is not None:
            out[name] = tx[name]
    out["attributes"] = tx.get("attributes") or {}
    return out


def _json_object(body: bytes | str) -> dict[str, Any]:
    return load_object(body or b"", DEFAULT_MAX_BODY_BYTES)


def metric_ids_of(spec: Any) -> list[str]:
    """Every metric id a raw spec names (``mappings[].metricId``, ``metricIds[]``,
    ``rules[].mappings[].metricId``), in order, unique."""
    found: dict[str, None] = {}
    if isinstance(spec, dict):
        lists = [spec.get("mappings")]
        rules = spec.get("rules")
        if isinstance(rules, list):
            lists += [rule.get("mappings") for rule in rules if isinstance(rule, dict)]
        for mappings in lists:
            if isinstance(mappings, list):
                for m in mappings:
                    if isinstance(m, dict) and isinstance(m.get("metricId"), str):
                        found[m["metricId"]] = None
        declared = spec.get("metricIds")
        if isinstance(declared, list):
            found.update((mid, None) for mid in declared if isinstance(mid, str))
    return [mid for mid in found if 0 < len(mid) <= 128][:MAX_METRIC_LOOKUPS]


class TemplateCatalog:
    def __init__(self, repo: DefinitionsRepository, templates: TemplatesRepository) -> None:
        self.repo = repo
        self.templates = templates

    def create(self, principal: Principal, body: bytes | str) -> Template:
        require(principal, "templates:write")
        candidate = parse(TemplateCreate, _json_object(body))
        _validate(candidate, self.metrics_for(principal.org_id, candidate.spec))
        stamp = iso_from_ms(now_ms())
        template = Template(
            id=new_id(TEMPLATE_ID_PREFIX),
            revision=1,
            status=TemplateStatus.active,
            createdAt=stamp,
            updatedAt=stamp,
            **candidate.model_dump(),
        )
        self.templates.create(principal.org_id, template)
        return template

    def get(self, principal: Principal, template_id: str) -> Template:
        """Also a deleted template (with ``status: deleted``): a soft delete stays readable."""
        require(principal, "templates:read")
        return self.stored(principal.org_id, template_id)[0]

    def list_templates(
        self,
        principal: Principal,
        *,
        target: TemplateTarget | None = None,
        fmt: TemplateFormat | None = None,
        status: TemplateStatus | None = None,
        limit: int = 50,
        cursor: str | None = None,
    ) -> Page[Template]:
        """Active templates unless ``status`` says otherwise (``deleted`` lists only deleted ones)."""
        require(principal, "templates:read")
        wanted = status or TemplateStatus.active

        def keep(t: Template) -> bool:
            return t.status is wanted and (target is None or t.target is target) and (fmt is None or t.format is fmt)

        items, token = self.templates.page(principal.org_id, keep, limit, cursor)
        return Page[Template](items=items, continuationToken=token)

    def update(self, principal: Principal, template_id: str, body: bytes | str) -> Template:
        """Replace name/description/spec/tags and bump ``revision`` (optimistic, retried on a race)."""
        require(principal, "templates:write")
        data = _json_object(body)
        _check_update_fields(data)
        change = parse(TemplateUpdate, data)
        metrics: dict[str, MetricDefinition] | None = None
        for _ in range(UPDATE_ATTEMPTS):
            current, ver = self.stored(principal.org_id, template_id)
            if current.status is TemplateStatus.deleted:
                raise TemplateDeletedConflict(f"template {template_id} is deleted and cannot be changed")
            if change.spec is not None:
                if metrics is None:
                    metrics = self.metrics_for(principal.org_id, change.spec)
                _validate(change, metrics, current)
            fields: dict[str, Any] = {k: getattr(change, k) for k in change.model_fields_set}
            updated = current.model_copy(
                update={**fields, "revision": current.revision + 1, "updatedAt": iso_from_ms(now_ms())}
            )
            try:
                self.templates.replace(principal.org_id, updated, ver)
            except Conflict:
                continue  # another PUT won this revision: apply ours on top of it
            return updated
        raise Conflict(f"template {template_id} is being changed concurrently; retry")

    def delete(self, principal: Principal, template_id: str) -> Template:
        """Soft delete: ``status`` becomes ``deleted`` (idempotent; ``revision`` is unchanged)."""
        require(principal, "templates:write")
        for _ in range(UPDATE_ATTEMPTS):
            current, ver = self.stored(principal.org_id, template_id)
            if current.status is TemplateStatus.deleted:
                return current
            deleted = current.model_copy(update={"status": TemplateStatus.deleted, "updatedAt": iso_from_ms(now_ms())})
            try:
                self.templates.replace(principal.org_id, deleted, ver)
            except Conflict:
                continue
            return deleted
        raise Conflict(f"template {template_id} is being changed concurrently; retry")

    # ------------------------------------------------------------ shared with apply and transactions
    def stored(self, org_id: str, template_id: str) -> tuple[Template, int]:
        found = self.templates.get(org_id, template_id) if template_id.startswith(TEMPLATE_ID_PREFIX + "_") else None
        if found is None:
            raise NotFound(f"template {template_id} not found")
        return found.template, found.ver

    def usable(self, org_id: str, template_id: str) -> Template:
        template = self.stored(org_id, template_id)[0]
        if template.status is TemplateStatus.deleted:
            raise TemplateDeleted(f"template {template_id} is deleted")
        return template

    def metrics_for(self, org_id: str, spec: Any) -> dict[str, MetricDefinition]:
        ids = metric_ids_of(spec)
        return self.repo.get_metrics(org_id, ids) if ids else {}


def _check_update_fields(data: dict[str, Any]) -> None:
    errors = [
        FieldError((name,), f"is immutable: a template's {name} cannot be changed after creation")
        for name in ("target", "format")
        if name in data
    ]
    if errors:
        raise ValidationFailed(errors, reason="immutable-field")
    errors = [FieldError((name,), "must not be null") for name in ("name", "spec", "tags") if data.get(name, 0) is None]
    if errors:
        raise ValidationFailed(errors)
    if not data:
        raise ValidationFailed.single((), "set at least one of name, description, spec, tags", reason="empty-update")


def check_target(template: Template, target: TemplateTarget, what: str) -> None:
    if template.target is not target:
        raise ValidationFailed.single(
            ("templateId",),
            f"template {template.id} targets {template.target.value}; only a {target.value} template {what}",
            reason="wrong-target",
        )


def preview(result: ApplyResult) -> dict[str, Any]:
    out = result.report.as_dict()
    if result.report.transactionsWritten is not None:
        out["transactions"] = [transaction_out(t.as_dict()) for t in result.transactions]
    else:
        out["readings"] = [reading_out(r) for r in result.readings]
    return out
