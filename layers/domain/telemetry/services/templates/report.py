"""What applying a template produces: the readings (or transactions) to write and the report."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

Reading = tuple[int, dict[str, Any]]
"""``(timestamp_ms, {metricId: coerced value})``."""


@dataclass(slots=True)
class Transaction:
    """One ``Transactions`` record (see ``docs/templates.md``)."""

    id: str
    time: int
    type: str
    amount: float | None = None
    currency: str | None = None
    quantity: float | None = None
    attributes: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"id": self.id, "time": self.time, "type": self.type}
        if self.amount is not None:
            out["amount"] = self.amount
            out["currency"] = self.currency
        if self.quantity is not None:
            out["quantity"] = self.quantity
        out["attributes"] = dict(self.attributes)
        return out


@dataclass(slots=True)
class ApplyReport:
    """The processing report, serialized by :meth:`as_dict` exactly as the spec's example."""

    previewOnly: bool
    templateId: str
    templateRevision: int
    recordsParsed: int = 0
    readingsWritten: int = 0
    metricValuesWritten: int = 0
    recordsSkipped: list[dict[str, Any]] = field(default_factory=list)
    metricsSkippedNotOnTtd: list[str] = field(default_factory=list)
    fieldsSkippedMissing: dict[str, int] = field(default_factory=dict)
    fieldsInvalid: dict[tuple[str, str], int] = field(default_factory=dict)
    transactionsWritten: int | None = None
    """Only for the ``Transactions`` target (then ``readingsWritten``/``metricValuesWritten`` are 0
    and the ``metricId`` of ``fieldsSkippedMissing``/``fieldsInvalid`` names a transaction field)."""
    recordsSkippedByReason: dict[str, int] | None = None
    """Only for the ``Integrations`` target: every skipped record counted by reason (a provider page
    can hold 50,000 records, so ``recordsSkipped`` then lists only the first ones)."""

    def skip(self, index: int, reason: str, value: Any = None, *, with_value: bool = False) -> None:
        entry: dict[str, Any] = {"index": index, "reason": reason}
        if with_value:
            entry["value"] = report_value(value)
        self.recordsSkipped.append(entry)

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "previewOnly": self.previewOnly,
            "templateId": self.templateId,
            "templateRevision": self.templateRevision,
            "recordsParsed": self.recordsParsed,
            "readingsWritten": self.readingsWritten,
            "metricValuesWritten": self.metricValuesWritten,
            "recordsSkipped": list(self.recordsSkipped),
            "metricsSkippedNotOnTtd": list(self.metricsSkippedNotOnTtd),
            "fieldsSkippedMissing": [
                {"metricId": mid, "count": count} for mid, count in self.fieldsSkippedMissing.items()
            ],
            "fieldsInvalid": [
                {"metricId": mid, "reason": reason, "count": count}
                for (mid, reason), count in self.fieldsInvalid.items()
            ],
        }
        if self.transactionsWritten is not None:
            out["transactionsWritten"] = self.transactionsWritten
        if self.recordsSkippedByReason is not None:
            out["recordsSkippedByReason"] = dict(self.recordsSkippedByReason)
        return out


@dataclass(slots=True)
class ApplyResult:
    readings: list[Reading]
    report: ApplyReport
    transactions: list[Transaction] = field(default_factory=list)


_MAX_VALUE_CHARS = 200


def report_value(value: Any) -> Any:
    """A bounded echo of an offending value: scalars as-is (long strings cut), containers by kind."""
    if isinstance(value, str):
        return value if len(value) <= _MAX_VALUE_CHARS else value[:_MAX_VALUE_CHARS] + "…"
    if isinstance(value, dict):
        return "<object>"
    if isinstance(value, list):
        return "<array>"
    return value
