"""The record loop shared by ``JsonPointer`` and ``JavaScriptHandler``: records → merged readings.

Per record: resolve + parse the timestamp (skip the record when missing/unparseable), then for each
compiled field resolve the source, apply default / converter, and count what was missing or invalid.
Readings that share a timestamp are merged (a later record wins per metric): the store keys a row
by thing + time, so two readings at the same time would otherwise replace each other.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import orjson

from telemetry.body import check_size, load_json
from telemetry.clock import latest_accepted_ms
from telemetry.errors import FieldError, MalformedRequest, ValidationFailed
from telemetry.models.metrics import CoercionError, DataType, MetricDefinition
from telemetry.models.templates import Transform
from telemetry.services.templates.limits import MAX_PAYLOAD_BYTES, MAX_TIMESTAMP_MS
from telemetry.services.templates.report import ApplyReport, Reading
from telemetry.services.templates.values import (
    EPOCH_NAIVE_HALF,
    EPOCH_UTC_HALF,
    INVALID_DEFAULT,
    MISSING,
    Converter,
    Getter,
    InvalidValueError,
    TimestampParser,
    coerce_default,
    fast_path,
    make_converter,
    not_after,
    passthrough_type,
    ts_iso8601,
)

Payload = bytes | bytearray | memoryview | str | Any

_NO_DEFAULT: Any = MISSING


class _BadDefault:
    __slots__ = ()


BAD_DEFAULT: Any = _BadDefault()


def parse_payload(payload: Payload) -> Any:
    """Size-check and parse the request body (bytes/str), or size-check an already parsed object."""
    if isinstance(payload, bytes | bytearray | memoryview | str):
        return load_json(payload, MAX_PAYLOAD_BYTES)
    try:
        body = orjson.dumps(payload)
    except TypeError as exc:
        raise MalformedRequest(f"payload is not JSON-serializable: {exc}") from None
    check_size(body, MAX_PAYLOAD_BYTES)
    return orjson.loads(body)  # normalized exactly like a body: plain dict/list, no NaN, 64-bit ints


def records_not_array(pointer: str, found: Any) -> ValidationFailed:
    kind = "nothing" if found is MISSING else _kind(found)
    return ValidationFailed(
        [
            FieldError(
                ("spec", "recordsPointer"),
                f"{pointer!r} must resolve to an array in the payload; found {kind}",
            )
        ],
        reason="records-not-array",
    )


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, dict):
        return "an object"
    if isinstance(value, list):
        return "an array"
    return f"a {type(value).__name__}"


def usable_metric(metric: MetricDefinition | None) -> bool:
    return metric is not None and not metric.deleted and metric.dataType is not DataType.Json


@dataclass(slots=True)
class Field:
    """One compiled mapping. ``key`` is set for one-token record-scope pointers (inlined ``dict.get``)."""

    metric_id: str
    key: str | None
    getter: Getter
    passthrough: type
    conv: Converter
    default: Any  # MISSING: none configured; BAD_DEFAULT: no longer coercible
    fast: tuple[str, Any, Any] | None = None

    def as_tuple(self) -> tuple[str, str | None, Getter, type, Converter, Any]:
        return (self.metric_id, self.key, self.getter, self.passthrough, self.conv, self.default)


def compile_field(
    metric: MetricDefinition,
    key: str | None,
    getter: Getter,
    *,
    transform: Transform | None = None,
    enum_map: Mapping[str, int] | None = None,
    default: Any = None,
    labels: Mapping[int, str] | None = None,
) -> Field:
    conv = make_converter(metric, transform, enum_map, labels)
    stored_default: Any = _NO_DEFAULT
    if default is not None:
        try:
            stored_default = coerce_default(metric, default)
        except CoercionError:
            stored_default = BAD_DEFAULT  # the metric changed since the template was validated
    return Field(
        metric.id,
        key,
        getter,
        passthrough_type(metric, transform, enum_map, labels),
        conv,
        stored_default,
        fast_path(metric, transform, enum_map, labels),
    )


def map_records(
    records: Sequence[Any],
    ts_key: str | None,
    ts_getter: Getter,
    parse_ts: TimestampParser,
    fields: Sequence[Field],
    report: ApplyReport,
) -> list[Reading]:
    """Run the compiled fields over every record, filling ``report``; returns merged readings.

    Object records go through a loop generated for this template's shape (see :func:`_loop_factory`);
    other records (arrays, scalars) through the generic per-record path.
    """
    iso = parse_ts is ts_iso8601
    latest = min(MAX_TIMESTAMP_MS, latest_accepted_ms())
    parse_ts = not_after(parse_ts, latest)
    plan = [f.as_tuple() for f in fields]
    merged: dict[int, dict[str, Any]] = {}
    missing: dict[str, int] = {}
    invalid: dict[tuple[str, str], int] = report.fieldsInvalid
    skip = report.skip

    def absent(mid: str, default: Any, values: dict[str, Any]) -> None:
        if default is MISSING:
            missing[mid] = missing.get(mid, 0) + 1
        elif default is BAD_DEFAULT:
            invalid[(mid, INVALID_DEFAULT)] = invalid.get((mid, INVALID_DEFAULT), 0) + 1
        else:
            values[mid] = default

    def bad(mid: str, reason: str) -> None:
        invalid[(mid, reason)] = invalid.get((mid, reason), 0) + 1

    def generic(index: int, rec: Any) -> None:
        raw_ts = ts_getter(rec)
        if raw_ts is MISSING or raw_ts is None:
            skip(index, "missing_timestamp")
            return
        ts = parse_ts(raw_ts)
        if ts is None:
            skip(index, "invalid_timestamp", raw_ts, with_value=True)
            return
        values: dict[str, Any] = {}
        for mid, _key, get, _passthrough, conv, default in plan:
            raw = get(rec)
            if raw is MISSING or raw is None:
                absent(mid, default, values)
            else:
                try:
                    values[mid] = conv(raw)
                except InvalidValueError as exc:
                    bad(mid, exc.reason)
        if not values:
            skip(index, "no_metric_values")
            return
        existing = merged.get(ts)
        if existing is None:
            merged[ts] = values
        else:
            existing.update(values)

    shape = (
        ts_key is not None,
        iso,
        tuple((f.key is not None, f.fast[0] if f.fast else "", bool(f.fast and f.fast[2])) for f in fields),
    )
    args: dict[str, Any] = {
        "TSK": ts_key,
        "TSG": ts_getter,
        "PARSE": parse_ts,
        "MISSING": MISSING,
        "FROMISO": datetime.fromisoformat,
        "UTC": UTC,
        "EPOCH": EPOCH_UTC_HALF,
        "NAIVE": EPOCH_NAIVE_HALF,
        "MAXTS": latest,
        "InvalidValueError": InvalidValueError,
        "absent": absent,
        "bad": bad,
        "generic": generic,
    }
    for i, f in enumerate(fields):
        args.update({f"M{i}": f.metric_id, f"K{i}": f.key, f"G{i}": f.getter, f"C{i}": f.conv, f"D{i}": f.default})
        args[f"P{i}"], args[f"Q{i}"] = (f.fast[1], f.fast[2]) if f.fast else (None, None)
    run = _loop_factory(shape)(**args)
    run(records, skip, merged)
    finish(report, merged, missing, len(records))
    return list(merged.items())


_FACTORIES: dict[Any, Any] = {}
_MAX_FACTORIES = 256


def compile_factory(lines: list[str], filename: str, cache: dict[Any, Any], shape: Any) -> Any:
    """Compile generated source defining ``factory`` and keep it in ``cache`` under ``shape``
    (a bounded cache: cleared when full). The source must hold only fixed code and numbered
    names; every template-supplied value is an argument of the factory."""
    namespace: dict[str, Any] = {}
    exec(compile("\n".join(lines), filename, "exec"), namespace)
    factory = namespace["factory"]
    if len(cache) >= _MAX_FACTORIES:
        cache.clear()
    cache[shape] = factory
    return factory


#: per fast-path kind (``values.fast_path``): the inline test of field ``{i}``'s raw value ``r{i}``
#: and the stored value when it passes (the ``enum`` test binds ``c{i}``, the code)
_FAST_TESTS = {
    "type": ("type(r{i}) is P{i}", "r{i}"),
    "int": ("type(r{i}) is int and -9223372036854775808 <= r{i} <= 9223372036854775807", "r{i}"),
    "str": ("type(r{i}) is str and r{i}", "r{i}"),
    "enum": ("type(r{i}) is str and (c{i} := P{i}.get(r{i})) is not None", "c{i}"),
    "div": ("type(r{i}) is int", "r{i} / P{i}"),
}


def _loop_factory(shape: tuple[bool, bool, tuple[tuple[bool, str, bool], ...]]) -> Any:
    """Generate (once per shape) the unrolled record loop for object records.

    The generated source contains only fixed code and numbered names (``K0``, ``C0`` ...); every
    template-supplied value (keys, metric ids, tables, converters) is passed in as an argument, so
    nothing from a template is ever compiled as code.

    Per record it reads every field's raw value first (``r0``, ``r1`` ...; reads have no effects).
    When every field has a fast path and all of them pass, the values are built as one dict
    display; otherwise each field goes its own way (fast path, absent, converter), in mapping
    order, exactly as before. A record's timestamp is ISO 8601 arithmetic inline for UTC / naive
    values (``values.ts_iso8601``'s), anything else through ``PARSE``.
    """
    factory = _FACTORIES.get(shape)
    if factory is not None:
        return factory
    ts_by_key, ts_iso, field_shapes = shape
    n = len(field_shapes)
    params = [
        "TSK",
        "TSG",
        "PARSE",
        "MISSING",
        "FROMISO",
        "UTC",
        "EPOCH",
        "NAIVE",
        "MAXTS",
        "InvalidValueError",
        "absent",
        "bad",
        "generic",
    ]
    for i in range(n):
        params += [f"M{i}", f"K{i}", f"G{i}", f"C{i}", f"D{i}", f"P{i}", f"Q{i}"]
    lines = [
        f"def factory({', '.join(params)}):",
        "    def run(records, skip, merged):",
        "        setdefault = merged.setdefault",
        "        for index, rec in enumerate(records):",
        "            if type(rec) is not dict:",
        "                generic(index, rec)",
        "                continue",
        "            raw_ts = rec.get(TSK, MISSING)" if ts_by_key else "            raw_ts = TSG(rec)",
        "            if raw_ts is MISSING or raw_ts is None:",
        "                skip(index, 'missing_timestamp')",
        "                continue",
    ]
    if ts_iso:  # ts_iso8601 inlined for the UTC / naive cases (same arithmetic), the rest through PARSE
        arithmetic = [
            "                ts = td.days * 86400000 + td.seconds * 1000 + td.microseconds // 1000",
            "                if not 0 <= ts <= MAXTS:",
            "                    ts = None",
        ]
        lines += [
            "            try:",
            "                dt = FROMISO(raw_ts)",
            "            except (TypeError, ValueError):",
            "                dt = None",
            "            if dt is not None and (tz := dt.tzinfo) is UTC:",
            "                td = dt - EPOCH",
            *arithmetic,
            "            elif dt is not None and tz is None:",
            "                td = dt - NAIVE",
            *arithmetic,
            "            else:",
            "                ts = PARSE(raw_ts)",
        ]
    else:
        lines.append("            ts = PARSE(raw_ts)")
    lines += [
        "            if ts is None:",
        "                skip(index, 'invalid_timestamp', raw_ts, with_value=True)",
        "                continue",
    ]
    tests: list[tuple[str, str] | None] = []
    for i, (by_key, kind, has_offset) in enumerate(field_shapes):
        if by_key:
            lines += [
                "            try:",
                f"                r{i} = rec[K{i}]",
                "            except KeyError:",
                f"                r{i} = MISSING",
            ]
        else:
            lines.append(f"            r{i} = G{i}(rec)")
        test = _FAST_TESTS.get(kind)
        if test is not None and kind == "div" and has_offset:
            test = (test[0], f"{test[1]} + Q{i}")
        tests.append(None if test is None else (test[0].format(i=i), test[1].format(i=i)))
    indent = "            "
    if n and all(tests):
        lines += [
            f"            if {' and '.join(t[0] for t in tests if t)}:",
            f"                values = {{{', '.join(f'M{i}: {t[1]}' for i, t in enumerate(tests) if t)}}}",
            "            else:",
        ]
        indent += "    "
    lines.append(f"{indent}values = {{}}")
    for i, test in enumerate(tests):
        keyword = "if"
        if test is not None:
            lines += [f"{indent}if {test[0]}:", f"{indent}    values[M{i}] = {test[1]}"]
            keyword = "elif"
        lines += [
            f"{indent}{keyword} r{i} is MISSING or r{i} is None:",
            f"{indent}    absent(M{i}, D{i}, values)",
            f"{indent}else:",
            f"{indent}    try:",
            f"{indent}        values[M{i}] = C{i}(r{i})",
            f"{indent}    except InvalidValueError as exc:",
            f"{indent}        bad(M{i}, exc.reason)",
        ]
    lines += [
        f"{indent}if not values:",
        f"{indent}    skip(index, 'no_metric_values')",
        f"{indent}    continue",
        "            existing = setdefault(ts, values)",
        "            if existing is not values:",
        "                existing.update(values)",
        "    return run",
    ]
    return compile_factory(lines, "<template-record-loop>", _FACTORIES, shape)


def finish(report: ApplyReport, merged: dict[int, dict[str, Any]], missing: dict[str, int], parsed: int) -> None:
    report.recordsParsed = parsed
    report.readingsWritten = len(merged)
    report.metricValuesWritten = sum(map(len, merged.values()))
    for mid, count in missing.items():
        report.fieldsSkippedMissing[mid] = report.fieldsSkippedMissing.get(mid, 0) + count
