"""Running templates: the dry run (``/test``) and the apply onto a thing's metrics.

Applied readings take the platform's one durable path: ONE :class:`AcceptedBatch` of
:class:`SeriesRows` on the reading queue (kind ``THING``, series = the thing id, keyed by metric
ids), so the writer Lambda stores them and ``latest-event``/``history`` read them.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from telemetry.models.auth import Principal
from telemetry.models.metrics import MetricDefinition
from telemetry.models.readings import AcceptedBatch, SeriesKind, SeriesRows
from telemetry.models.templates import Template, TemplateTarget
from telemetry.models.types import DataType
from telemetry.ports.readings import ReadingQueue
from telemetry.services.auth import require
from telemetry.services.ingest import accept_version, new_batch_id
from telemetry.services.integrations.mapping import preview_records, sample_records
from telemetry.services.template_catalog import TemplateCatalog, check_target, preview, reading_out
from telemetry.services.templates import apply_template, test_template
from telemetry.services.thing_context import ThingContextResolver


def integrations_preview(
    template: Template, payload: bytes | str, metrics: Mapping[str, MetricDefinition]
) -> dict[str, Any]:
    """Dry run of an Integrations template: body ``{"recordType", "records"}``; the report plus the
    readings it would write, keyed by external id (``{"b1": [{timestamp, time, metrics}]}``)."""
    report, readings = preview_records(template, sample_records(payload), metrics)
    out = report.as_dict()
    out["readings"] = {ext: [reading_out(r) for r in rows] for ext, rows in readings.items()}
    return out


class TemplateApply:
    def __init__(
        self, catalog: TemplateCatalog, contexts: ThingContextResolver, queue: Callable[[], ReadingQueue]
    ) -> None:
        self.catalog = catalog
        self.contexts = contexts
        self._queue = queue

    def test(self, principal: Principal, template_id: str, payload: bytes | str) -> dict[str, Any]:
        """Dry run on a sample payload: no Thing, nothing written; the report plus what it would write."""
        require(principal, "templates:write")  # it runs the template's code
        template = self.catalog.usable(principal.org_id, template_id)
        metrics = self.catalog.metrics_for(principal.org_id, template.spec)
        if template.target is TemplateTarget.Integrations:
            return integrations_preview(template, payload, metrics)
        return preview(test_template(template, payload, metrics))

    def apply(
        self, principal: Principal, thing_id: str, template_id: str, payload: bytes | str, *, preview_only: bool
    ) -> dict[str, Any]:
        """``POST /v2/thing/{thingId}/data/template/{templateId}``: map, enqueue ONE batch, report."""
        require(principal, "data:write")
        template = self.catalog.usable(principal.org_id, template_id)
        check_target(template, TemplateTarget.ThingData, "applies to a thing")
        ctx = self.contexts.resolve(principal, thing_id)
        result = apply_template(template, payload, ctx.metrics, set(ctx.metrics), preview_only=preview_only)
        if preview_only:
            return preview(result)
        if result.readings:
            types: dict[str, DataType] = {}
            for _ts, values in result.readings:
                for mid in values:
                    if mid not in types:
                        types[mid] = ctx.metrics[mid].dataType
            rows = SeriesRows(SeriesKind.THING, ctx.thing.id, accept_version(), types, list(result.readings))
            self._queue().enqueue(AcceptedBatch(new_batch_id(), principal.org_id, groups=[rows]))
        return result.report.as_dict()
