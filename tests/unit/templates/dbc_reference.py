"""The Dbc per-frame path as it was before the generated message code (a plain loop over each
message's fields, every check at run time): the reference ``test_dbc_equivalence`` compares the
engine's ``apply_dbc`` with. It reuses the engine's decoders (``fast_decoder`` is checked against
cantools elsewhere) and its value rules; what it pins is the per-frame path around them."""

from __future__ import annotations

import functools
from collections.abc import Mapping
from typing import Any

from telemetry.clock import latest_accepted_ms
from telemetry.models.metrics import DataType, MetricDefinition
from telemetry.models.templates import DbcSpec
from telemetry.services.templates.engine import BAD_DEFAULT, compile_field, finish, usable_metric
from telemetry.services.templates.fmt_dbc import (
    _frame_data,
    _labels,
    fast_decoder,
    frame_id,
    j1939_index,
    linear,
    load_dbc,
    resolve_signal,
)
from telemetry.services.templates.fmt_jsonpointer import resolve_records
from telemetry.services.templates.limits import MAX_DBC_FRAMES, MAX_TIMESTAMP_MS
from telemetry.services.templates.report import ApplyReport, Reading
from telemetry.services.templates.values import (
    INVALID_DEFAULT,
    MISSING,
    TIMESTAMP_PARSERS,
    InvalidValueError,
    not_after,
)


def reference_apply_dbc(
    spec: DbcSpec,
    doc: Any,
    metrics: Mapping[str, MetricDefinition],
    on_type: set[str],
    report: ApplyReport,
) -> list[Reading]:
    db = load_dbc(spec.dbc)
    groups: dict[int, tuple[Any, list[Any]]] = {}
    scaled_by_decoder: dict[int, bool] = {}
    for mapping in spec.mappings:
        metric = metrics.get(mapping.metricId)
        resolved = resolve_signal(db, mapping.signal)
        if metric is None or not usable_metric(metric) or mapping.metricId not in on_type or isinstance(resolved, str):
            report.metricsSkippedNotOnTtd.append(mapping.metricId)
            continue
        msg, sig = resolved
        needs_labels = mapping.enumMap is not None or metric.dataType is DataType.String
        field = compile_field(
            metric,
            sig.name,
            lambda _r: MISSING,
            transform=mapping.transform,
            enum_map=mapping.enumMap,
            default=mapping.default,
            labels=_labels(sig) if needs_labels else None,
        )
        if msg.frame_id not in groups:
            fast = fast_decoder(msg)
            groups[msg.frame_id] = (fast or functools.partial(msg.decode_simple, decode_choices=False), [])
            scaled_by_decoder[msg.frame_id] = fast is None
        identity, scale, offset = (True, 1, 0) if scaled_by_decoder[msg.frame_id] else linear(sig)
        groups[msg.frame_id][1].append(
            (sig.name, identity, scale, offset, field.metric_id, field.passthrough, field.conv, field.default)
        )
    known = {msg.frame_id for msg in db.messages}
    by_pgn = j1939_index(db)
    if by_pgn:
        from cantools.j1939 import pgn_from_frame_id
    frames = resolve_records(doc, spec.recordsPointer, MAX_DBC_FRAMES)
    latest = min(MAX_TIMESTAMP_MS, latest_accepted_ms())
    ms_fast = spec.timestampFormat.value in ("auto", "epoch_ms")
    parse_ts = not_after(TIMESTAMP_PARSERS[spec.timestampFormat.value], latest)
    merged: dict[int, dict[str, Any]] = {}
    missing: dict[str, int] = {}
    invalid = report.fieldsInvalid
    skip = report.skip
    for index, frame in enumerate(frames):
        if type(frame) is not dict:
            skip(index, "invalid_frame", frame, with_value=True)
            continue
        raw_id = frame.get("id")
        fid = raw_id if type(raw_id) is int and 0 <= raw_id <= 0x7FF else frame_id(raw_id)
        if fid is None:
            skip(index, "invalid_frame_id", raw_id, with_value=True)
            continue
        group = groups.get(fid)
        if group is None and by_pgn and fid > 0x7FF and fid not in known:
            fid = by_pgn.get(pgn_from_frame_id(fid), fid)
            group = groups.get(fid)
        if group is None:
            if fid in known:
                skip(index, "no_metric_values")
            else:
                skip(index, "unknown_frame_id", raw_id, with_value=True)
            continue
        raw_ts = frame.get("timestamp")
        ts: int | None
        if ms_fast and type(raw_ts) is int and 0 <= raw_ts <= latest:
            ts = raw_ts
        elif raw_ts is None:
            skip(index, "missing_timestamp")
            continue
        else:
            ts = parse_ts(raw_ts)
            if ts is None:
                skip(index, "invalid_timestamp", raw_ts, with_value=True)
                continue
        hex_text = frame.get("data")
        data: bytes | None
        if type(hex_text) is str and "dataBase64" not in frame:
            try:
                data = bytes.fromhex(hex_text)
            except ValueError:
                data = _frame_data(frame)
        else:
            data = _frame_data(frame)
        if data is None:
            skip(index, "invalid_frame_data")
            continue
        decode, fields = group
        try:
            decoded = decode(data)
        except Exception as exc:  # cantools: DecodeError, bitstruct errors, ValueError ...
            skip(index, "decode_failed", str(exc) or type(exc).__name__, with_value=True)
            continue
        values: dict[str, Any] = {}
        for sig_name, identity, scale, offset, mid, passthrough, conv, default in fields:
            raw = decoded.get(sig_name, MISSING)
            if raw is MISSING:  # not in this multiplexer branch
                if default is MISSING:
                    missing[mid] = missing.get(mid, 0) + 1
                elif default is BAD_DEFAULT:
                    invalid[(mid, INVALID_DEFAULT)] = invalid.get((mid, INVALID_DEFAULT), 0) + 1
                else:
                    values[mid] = default
                continue
            if not identity:
                raw = raw * scale + offset
            if type(raw) is passthrough:
                values[mid] = raw
                continue
            try:
                values[mid] = conv(raw)
            except InvalidValueError as exc:
                invalid[(mid, exc.reason)] = invalid.get((mid, exc.reason), 0) + 1
        if not values:
            skip(index, "no_metric_values")
            continue
        existing = merged.get(ts)
        if existing is None:
            merged[ts] = values
        else:
            existing.update(values)
    finish(report, merged, missing, len(frames))
    return list(merged.items())
