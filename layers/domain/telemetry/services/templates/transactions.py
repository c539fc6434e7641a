"""``Transactions`` + ``JsonPointer``: each record becomes one :class:`Transaction`.

A Transaction: ``id`` (string, required, ≤128 chars), ``time`` (epoch ms from ``timestamp``),
``type`` (string, required, ≤128 chars), ``amount`` + ``currency`` (finite number + ISO 4217
three-letter code, upper-cased) and/or ``quantity`` (finite number), and ``attributes``
(name → scalar). Record problems skip the record with a reason (``missing_id``, ``invalid_id``,
``missing_type``, ``invalid_type``, ``invalid_amount``, ``missing_currency``, ``invalid_currency``,
``invalid_quantity``, ``missing_amount_or_quantity``, timestamp reasons); an attribute that is an
object/array is dropped and counted in ``fieldsInvalid`` (``metricId`` = ``attributes/<name>``).
"""

from __future__ import annotations

import math
import re
from typing import Any

from telemetry.clock import latest_accepted_ms
from telemetry.models.templates import TransactionSelector, TransactionsJsonPointerSpec
from telemetry.services.templates.fmt_jsonpointer import resolve_records, selector_getter
from telemetry.services.templates.report import ApplyReport, Transaction
from telemetry.services.templates.values import MISSING, NOT_SCALAR, TIMESTAMP_PARSERS, Getter, not_after

_CURRENCY = re.compile(r"^[A-Za-z]{3}$")
_MAX_TEXT = 128


def _getter(selector: TransactionSelector, doc: Any) -> tuple[Getter, Any]:
    _key, get = selector_getter(selector, doc)
    return get, selector.default


def _read(get: Getter, default: Any, rec: Any) -> Any:
    value = get(rec)
    if value is MISSING or value is None:
        return default
    return value


def _text(value: Any) -> str | None:
    if isinstance(value, bool | dict | list):
        return None
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    text = str(value).strip()
    return text if 0 < len(text) <= _MAX_TEXT else None


def _number(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        number = float(value)
    elif isinstance(value, str):
        try:
            number = float(value.strip())
        except ValueError:
            return None
    else:
        return None
    return number if math.isfinite(number) else None


def apply_transactions(spec: TransactionsJsonPointerSpec, doc: Any, report: ApplyReport) -> list[Transaction]:
    records = resolve_records(doc, spec.recordsPointer)
    _tk, ts_get = selector_getter(spec.timestamp.source, doc)
    parse_ts = not_after(TIMESTAMP_PARSERS[spec.timestamp.format.value], latest_accepted_ms())
    id_get = _getter(spec.id, doc)
    type_get = _getter(spec.type, doc)
    amount_get = _getter(spec.amount, doc) if spec.amount else None
    currency_get = _getter(spec.currency, doc) if spec.currency else None
    quantity_get = _getter(spec.quantity, doc) if spec.quantity else None
    attr_gets = {name: _getter(sel, doc) for name, sel in spec.attributes.items()}
    out: list[Transaction] = []
    for index, rec in enumerate(records):
        raw_ts = ts_get(rec)
        if raw_ts is MISSING or raw_ts is None:
            report.skip(index, "missing_timestamp")
            continue
        ts = parse_ts(raw_ts)
        if ts is None:
            report.skip(index, "invalid_timestamp", raw_ts, with_value=True)
            continue
        problem = None
        fields: dict[str, Any] = {}
        for name, getter in (("id", id_get), ("type", type_get)):
            raw = _read(*getter, rec)
            if raw is None:
                problem = (f"missing_{name}", None)
                break
            text = _text(raw)
            if text is None:
                problem = (f"invalid_{name}", raw)
                break
            fields[name] = text
        amount = currency = quantity = None
        if problem is None and amount_get is not None:
            raw = _read(*amount_get, rec)
            if raw is not None:
                amount = _number(raw)
                if amount is None:
                    problem = ("invalid_amount", raw)
                else:
                    raw_cur = _read(*currency_get, rec) if currency_get is not None else None
                    if raw_cur is None:
                        problem = ("missing_currency", None)
                    elif not isinstance(raw_cur, str) or not _CURRENCY.match(raw_cur):
                        problem = ("invalid_currency", raw_cur)
                    else:
                        currency = raw_cur.upper()
        if problem is None and quantity_get is not None:
            raw = _read(*quantity_get, rec)
            if raw is not None:
                quantity = _number(raw)
                if quantity is None:
                    problem = ("invalid_quantity", raw)
        if problem is None and amount is None and quantity is None:
            problem = ("missing_amount_or_quantity", None)
        if problem is not None:
            reason, value = problem
            report.skip(index, reason, value, with_value=value is not None)
            continue
        attributes: dict[str, Any] = {}
        for name, (get, default) in attr_gets.items():
            raw = _read(get, default, rec)
            if raw is None:
                continue
            if isinstance(raw, dict | list):
                key = (f"attributes/{name}", NOT_SCALAR)
                report.fieldsInvalid[key] = report.fieldsInvalid.get(key, 0) + 1
                continue
            attributes[name] = raw
        out.append(Transaction(fields["id"], ts, fields["type"], amount, currency, quantity, attributes))
    report.recordsParsed = len(records)
    report.transactionsWritten = len(out)
    return out
