"""The Transactions target: apply a Transactions template, and list an organization's transactions.

Transactions take the readings queue as kind ``TRANSACTION`` (series = the transaction type; one
row per millisecond holding every transaction of that type and time, keyed by id), merged
through the instant's transaction set so concurrent applies keep each other's transactions.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from telemetry.clock import now_ms
from telemetry.errors import Forbidden, ValidationFailed
from telemetry.models.auth import Principal
from telemetry.models.readings import AcceptedBatch, SeriesKind, SeriesRows
from telemetry.models.templates import (
    TemplateTarget,
)
from telemetry.ports.readings import ReadingQueue, ReadingStore
from telemetry.repositories.definitions import DefinitionsRepository, org_pk
from telemetry.services.auth import require, require_unfiltered
from telemetry.services.ingest import new_batch_id
from telemetry.services.queries import DEFAULT_WINDOW_MS, parse_time
from telemetry.services.template_catalog import TemplateCatalog, check_target, preview, transaction_out
from telemetry.services.templates import Transaction, apply_template
from telemetry.services.transaction_sets import TransactionSets


class TemplateTransactions:
    def __init__(
        self,
        catalog: TemplateCatalog,
        repo: DefinitionsRepository,
        queue: Callable[[], ReadingQueue],
        readings: Callable[[], ReadingStore],
    ) -> None:
        self.catalog = catalog
        self.repo = repo
        self._queue = queue
        self._readings = readings

    def apply_transactions(
        self, principal: Principal, template_id: str, payload: bytes | str, *, preview_only: bool
    ) -> dict[str, Any]:
        """``POST /v2/transactions/template/{templateId}``: map, enqueue ONE batch, report."""
        require(principal, "data:write")
        template = self.catalog.usable(principal.org_id, template_id)
        check_target(template, TemplateTarget.Transactions, "records transactions")
        if principal.filtered:  # transactions belong to the organization, to no place or thing
            raise Forbidden("a key with resource filters cannot record transactions")
        result = apply_template(template, payload, {}, set(), preview_only=preview_only)
        if preview_only:
            return preview(result)
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

    def _transaction_groups(self, org_id: str, transactions: Iterable[Transaction]) -> list[SeriesRows]:
        """One series per type; one row per millisecond holding ALL transactions of that instant,
        merged through the instant's transaction set (:mod:`telemetry.services.transaction_sets`),
        so concurrent applies at the same instant keep each other's transactions."""
        return TransactionSets(self.repo.store, org_pk(org_id), self._readings(), org_id).groups(transactions)
