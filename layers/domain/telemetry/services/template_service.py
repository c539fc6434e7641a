"""Templates as a product: manage them, dry-run them, apply them (docs/templates.md).

The engine (:mod:`telemetry.services.templates`) maps payloads; this module adds storage,
scopes, tenancy and the write path. Applied readings take the platform's one durable path: ONE
:class:`AcceptedBatch` of :class:`SeriesRows` on the reading queue (kind ``THING``, series = the
thing id, keyed by metric ids), so the writer Lambda stores them and ``latest-event``/``history``
read them. Transactions take the same queue as kind ``TRANSACTION`` (series = the transaction
type; one row per millisecond holding every transaction of that type and time, keyed by id).

Composed by :mod:`telemetry.bootstrap` (``container().templates``); the service holds no
state of its own.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from telemetry.body import load_object
from telemetry.clock import iso_from_ms, now_ms
from telemetry.errors import Conflict, FieldError, Forbidden, NotFound, ValidationFailed
from telemetry.ids import new_id
from telemetry.limits import DEFAULT_MAX_BODY_BYTES
from telemetry.models.auth import Principal
from telemetry.models.metrics import MetricDefinition
from telemetry.models.readings import AcceptedBatch, SeriesKind, SeriesRows
from telemetry.models.templates import (
    TEMPLATE_ID_PREFIX,
    Template,
    TemplateCreate,
    TemplateFormat,
    TemplateStatus,
    TemplateTarget,
    TemplateUpdate,
)
from telemetry.models.types import DataType
from telemetry.ports.readings import ReadingQueue, ReadingStore
from telemetry.repositories.definitions import DefinitionsRepository, org_pk
from telemetry.repositories.templates import TemplatesRepository
from telemetry.services.auth import require, require_unfiltered
from telemetry.services.ingest import accept_version, new_batch_id
from telemetry.services.queries import DEFAULT_WINDOW_MS, parse_time
from telemetry.services.templates import ApplyResult, Reading, Transaction, apply_template, test_template
from telemetry.services.templates import validate_template as _validate
from telemetry.services.thing_context import ThingContextResolver
from telemetry.services.transaction_sets import TransactionSets
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


def template_out(template: Template) -> dict[str, Any]:
    """The API shape of a template (``description`` omitted when unset; ``spec`` as stored)."""
    doc = template.model_dump(mode="json")
    if doc.get("description") is None:
        doc.pop("description", None)
    return doc


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
    """Every metric id a raw spec names (``mappings[].metricId``, ``metricIds[]``), in order, unique."""
    found: dict[str, None] = {}
    if isinstance(spec, dict):
        mappings = spec.get("mappings")
        if isinstance(mappings, list):
            for m in mappings:
                if isinstance(m, dict) and isinstance(m.get("metricId"), str):
                    found[m["metricId"]] = None
        declared = spec.get("metricIds")
        if isinstance(declared, list):
            found.update((mid, None) for mid in declared if isinstance(mid, str))
    return [mid for mid in found if 0 < len(mid) <= 128][:MAX_METRIC_LOOKUPS]


class TemplateService:
    def __init__(
        self,
        repo: DefinitionsRepository,
        templates: TemplatesRepository,
        contexts: ThingContextResolver,
        queue: Callable[[], ReadingQueue],
        readings: Callable[[], ReadingStore],
    ) -> None:
        self.repo = repo
        self.templates = templates
        self.contexts = contexts
        self._queue = queue
        self._readings = readings

    # ------------------------------------------------------------ management
    def create(self, principal: Principal, body: bytes | str) -> Template:
        require(principal, "templates:write")
        candidate = parse(TemplateCreate, _json_object(body))
        _validate(candidate, self._metrics(principal.org_id, candidate.spec))
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
        return self._stored(principal.org_id, template_id)[0]

    def list_templates(
        self,
        principal: Principal,
        *,
        target: TemplateTarget | None = None,
        fmt: TemplateFormat | None = None,
        status: TemplateStatus | None = None,
        limit: int = 50,
        cursor: str | None = None,
    ) -> dict[str, Any]:
        """Active templates unless ``status`` says otherwise (``deleted`` lists only deleted ones)."""
        require(principal, "templates:read")
        wanted = status or TemplateStatus.active

        def keep(t: Template) -> bool:
            return t.status is wanted and (target is None or t.target is target) and (fmt is None or t.format is fmt)

        items, token = self.templates.page(principal.org_id, keep, limit, cursor)
        out: dict[str, Any] = {"items": [template_out(t) for t in items]}
        if token:
            out["continuationToken"] = token
        return out

    def update(self, principal: Principal, template_id: str, body: bytes | str) -> Template:
        """Replace name/description/spec/tags and bump ``revision`` (optimistic, retried on a race)."""
        require(principal, "templates:write")
        data = _json_object(body)
        _check_update_fields(data)
        change = parse(TemplateUpdate, data)
        metrics: dict[str, MetricDefinition] | None = None
        for _ in range(UPDATE_ATTEMPTS):
            current, ver = self._stored(principal.org_id, template_id)
            if current.status is TemplateStatus.deleted:
                raise TemplateDeletedConflict(f"template {template_id} is deleted and cannot be changed")
            if change.spec is not None:
                if metrics is None:
                    metrics = self._metrics(principal.org_id, change.spec)
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
            current, ver = self._stored(principal.org_id, template_id)
            if current.status is TemplateStatus.deleted:
                return current
            deleted = current.model_copy(update={"status": TemplateStatus.deleted, "updatedAt": iso_from_ms(now_ms())})
            try:
                self.templates.replace(principal.org_id, deleted, ver)
            except Conflict:
                continue
            return deleted
        raise Conflict(f"template {template_id} is being changed concurrently; retry")

    # ------------------------------------------------------------ dry run
    def test(self, principal: Principal, template_id: str, payload: bytes | str) -> dict[str, Any]:
        """Dry run on a sample payload: no Thing, nothing written; the report plus what it would write."""
        require(principal, "templates:write")  # it runs the template's code
        template = self._usable(principal.org_id, template_id)
        metrics = self._metrics(principal.org_id, template.spec)
        return _preview(test_template(template, payload, metrics))

    # ------------------------------------------------------------ apply
    def apply(
        self, principal: Principal, thing_id: str, template_id: str, payload: bytes | str, *, preview_only: bool
    ) -> dict[str, Any]:
        """``POST /v2/thing/{thingId}/data/template/{templateId}``: map, enqueue ONE batch, report."""
        require(principal, "data:write")
        template = self._usable(principal.org_id, template_id)
        _check_target(template, TemplateTarget.ThingData, "applies to a thing")
        ctx = self.contexts.resolve(principal, thing_id)
        result = apply_template(template, payload, ctx.metrics, set(ctx.metrics), preview_only=preview_only)
        if preview_only:
            return _preview(result)
        if result.readings:
            types: dict[str, DataType] = {}
            for _ts, values in result.readings:
                for mid in values:
                    if mid not in types:
                        types[mid] = ctx.metrics[mid].dataType
            rows = SeriesRows(SeriesKind.THING, ctx.thing.id, accept_version(), types, list(result.readings))
            self._queue().enqueue(AcceptedBatch(new_batch_id(), principal.org_id, groups=[rows]))
        return result.report.as_dict()

    def apply_transactions(
        self, principal: Principal, template_id: str, payload: bytes | str, *, preview_only: bool
    ) -> dict[str, Any]:
        """``POST /v2/transactions/template/{templateId}``: map, enqueue ONE batch, report."""
        require(principal, "data:write")
        template = self._usable(principal.org_id, template_id)
        _check_target(template, TemplateTarget.Transactions, "records transactions")
        if principal.filtered:  # transactions belong to the organization, to no place or thing
            raise Forbidden("a key with resource filters cannot record transactions")
        result = apply_template(template, payload, {}, set(), preview_only=preview_only)
        if preview_only:
            return _preview(result)
        if result.transactions:
            groups = self._transaction_groups(principal.org_id, result.transactions)
            self._queue().enqueue(AcceptedBatch(new_batch_id(), principal.org_id, groups=groups))
        return result.report.as_dict()

    def list_transactions(
        self,
        principal: Principal,
        tx_type: str,
        *,
        start: str | None = None,
        end: str | None = None,
        limit: int = 100,
        cursor: str | None = None,
        order: str = "asc",
    ) -> dict[str, Any]:
        """Transactions of one type in ``[start, end)``; ``limit`` counts distinct times (see docs)."""
        require(principal, "data:read")
        require_unfiltered(principal, "transactions")  # org-wide data: outside every filter
        tx_type = tx_type.strip()
        if not 0 < len(tx_type) <= 128:
            raise ValidationFailed.single(("query", "type"), "must be 1 to 128 characters")
        end_ms = parse_time("end", end, now_ms() + 1)
        start_ms = parse_time("start", start, end_ms - DEFAULT_WINDOW_MS)
        if start_ms >= end_ms:
            raise ValidationFailed.single(("query", "start"), "must be before end")
        records, next_cursor = self._readings().history(
            principal.org_id,
            SeriesKind.TRANSACTION,
            tx_type,
            start_ms,
            end_ms,
            limit=limit,
            cursor=cursor,
            descending=order == "desc",
        )
        items = [
            transaction_out(record.measures[name].value)
            for record in records
            for name in sorted(record.measures)
            if isinstance(record.measures[name].value, dict)
        ]
        out: dict[str, Any] = {"type": tx_type, "start": start_ms, "end": end_ms, "transactions": items}
        if next_cursor:
            out["continuationToken"] = next_cursor
        return out

    # ------------------------------------------------------------ helpers
    def _stored(self, org_id: str, template_id: str) -> tuple[Template, int]:
        found = self.templates.get(org_id, template_id) if template_id.startswith(TEMPLATE_ID_PREFIX + "_") else None
        if found is None:
            raise NotFound(f"template {template_id} not found")
        return found.template, found.ver

    def _usable(self, org_id: str, template_id: str) -> Template:
        template = self._stored(org_id, template_id)[0]
        if template.status is TemplateStatus.deleted:
            raise TemplateDeleted(f"template {template_id} is deleted")
        return template

    def _metrics(self, org_id: str, spec: Any) -> dict[str, MetricDefinition]:
        ids = metric_ids_of(spec)
        return self.repo.get_metrics(org_id, ids) if ids else {}

    def _transaction_groups(self, org_id: str, transactions: Iterable[Transaction]) -> list[SeriesRows]:
        """One series per type; one row per millisecond holding ALL transactions of that instant,
        merged through the instant's transaction set (:mod:`telemetry.services.transaction_sets`),
        so concurrent applies at the same instant keep each other's transactions."""
        return TransactionSets(self.repo.store, org_pk(org_id), self._readings(), org_id).groups(transactions)


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


def _check_target(template: Template, target: TemplateTarget, what: str) -> None:
    if template.target is not target:
        raise ValidationFailed.single(
            ("templateId",),
            f"template {template.id} targets {template.target.value}; only a {target.value} template {what}",
            reason="wrong-target",
        )


def _preview(result: ApplyResult) -> dict[str, Any]:
    out = result.report.as_dict()
    if result.report.transactionsWritten is not None:
        out["transactions"] = [transaction_out(t.as_dict()) for t in result.transactions]
    else:
        out["readings"] = [reading_out(r) for r in result.readings]
    return out
