"""``ThingData`` + ``Dbc``: decode CAN frames with a DBC database (cantools) and map signals.

Payload: ``{"frames": [{"id": 0x123 | "0x123" | "291", "data": "<hex>" | "dataBase64": "<b64>",
"timestamp": <epoch ms | ISO 8601>}, ...]}`` (the array is found with ``recordsPointer``).
Frames are decoded with the message's own codec (looked up once per frame id, choices not
decoded: labels are resolved only for mappings that need them). A frame whose id is not in the
DBC, or that does not decode, is skipped and reported; it never fails the request.

J1939: a J1939 DBC (messages with ``VFrameFormat`` J1939PG, cantools' ``protocol == "j1939"``)
names each parameter group with one 29-bit id, usually with source address 0xFE; an ECU sends the
same PGN from its own address and sometimes another priority. A frame whose id is not in the DBC
is matched by its PGN (:func:`cantools.j1939.pgn_from_frame_id`) to the one J1939 message of that
PGN; a PGN that several messages of the DBC share stays exact-id only, and so do non-J1939 messages.
"""

from __future__ import annotations

import base64
import binascii
import functools
import math
from collections.abc import Callable, Mapping
from typing import Any

import cantools
from cantools.database.can import Database, Message, Signal
from cantools.database.errors import DecodeError

from telemetry.clock import latest_accepted_ms
from telemetry.models.metrics import DataType, MetricDefinition
from telemetry.models.templates import DbcSignalMapping, DbcSpec
from telemetry.services.templates.engine import BAD_DEFAULT, compile_field, finish, usable_metric
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

_EXTENDED_FLAG = 0x80000000


class DbcError(ValueError):
    """The DBC text does not parse; the message is cantools'."""


@functools.lru_cache(maxsize=32)
def load_dbc(text: str) -> Database:
    """Parse (and cache, by text) a DBC database. Raises :class:`DbcError` with cantools' message."""
    try:
        db = cantools.database.load_string(text, database_format="dbc")
    except Exception as exc:  # cantools raises several unrelated types (ParseError, ValueError, ...)
        raise DbcError(str(exc) or type(exc).__name__) from None
    if not isinstance(db, Database):  # pragma: no cover - database_format="dbc" always gives CAN
        raise DbcError("not a CAN database")
    for msg in db.messages:
        for sig in msg.signals:
            numbers = (sig.scale, sig.offset, sig.minimum, sig.maximum)
            if any(isinstance(n, float) and not math.isfinite(n) for n in numbers):
                # 1e320 parses as inf: every decoded value would be inf or NaN (a 500 at apply)
                raise DbcError(f"signal {msg.name}.{sig.name}: scale, offset, minimum and maximum must be finite")
    return db


@functools.lru_cache(maxsize=32)
def j1939_index(db: Database) -> dict[int, int]:
    """PGN -> frame id of the DBC's J1939 messages, for the PGNs exactly one message has."""
    from cantools.j1939 import pgn_from_frame_id

    owners: dict[int, list[int]] = {}
    for msg in db.messages:
        if msg.protocol == "j1939" and msg.is_extended_frame:
            owners.setdefault(pgn_from_frame_id(msg.frame_id), []).append(msg.frame_id)
    return {pgn: ids[0] for pgn, ids in owners.items() if len(ids) == 1}


def resolve_signal(db: Database, name: str) -> tuple[Message, Signal] | str:
    """``Message.Signal`` or a bare signal name unique in the DBC; else an error message."""
    if "." in name:
        msg_name, sig_name = name.split(".", 1)
        for msg in db.messages:
            if msg.name == msg_name:
                for sig in msg.signals:
                    if sig.name == sig_name:
                        return msg, sig
                return f"message {msg_name!r} has no signal {sig_name!r}"
        return f"no message {msg_name!r} in the DBC"
    found = [(msg, sig) for msg in db.messages for sig in msg.signals if sig.name == name]
    if not found:
        return f"no signal {name!r} in the DBC"
    if len(found) > 1:
        owners = ", ".join(sorted(m.name for m, _ in found))
        return f"signal {name!r} is ambiguous (in {owners}); use Message.Signal"
    return found[0]


def frame_id(raw: Any) -> int | None:
    """An arbitration id: an int, a ``0x`` hex string or a decimal string (bit 31 = extended flag)."""
    if type(raw) is int:
        value = raw
    elif type(raw) is str:
        text = raw.strip()
        try:
            value = int(text, 16) if text[:2].lower() == "0x" else int(text, 10)
        except ValueError:
            return None
    else:
        return None
    if value & _EXTENDED_FLAG:
        value &= 0x1FFFFFFF
    return value if 0 <= value <= 0x1FFFFFFF else None


def _frame_data(frame: dict[str, Any]) -> bytes | None:
    hex_text = frame.get("data")
    if type(hex_text) is str:
        if "dataBase64" in frame:
            return None
        try:
            return bytes.fromhex(hex_text[2:] if hex_text[:2] in ("0x", "0X") else hex_text)
        except ValueError:
            return None
    b64 = frame.get("dataBase64")
    if type(b64) is str and hex_text is None:
        try:
            return base64.b64decode(b64, validate=True)
        except (binascii.Error, ValueError):
            return None
    return None


def _labels(signal: Signal) -> dict[int, str] | None:
    if not signal.choices:
        return None
    return {int(code): str(label) for code, label in signal.choices.items()}


_FieldTuple = tuple[str, bool, Any, Any, str, type, Callable[[Any], Any], Any]
"""``(signal, scaled, scale, offset, metricId, passthrough type, converter, default)``."""
_Group = tuple[Callable[[bytes], dict[str, Any]], list[_FieldTuple]]


def fast_decoder(msg: Message) -> Callable[[bytes], dict[str, Any]] | None:
    """Raw (unscaled) decoder for a plain message, built on cantools' own bitstruct formats.

    ``Message.decode`` does the same unpacking, then scales *every* signal and walks its codec tree;
    for a non-multiplexed message only the mapped signals need scaling, which the caller does with
    the signal's linear conversion (:func:`linear`). Multiplexed and container messages return ``None``
    (they go through ``Message.decode_simple``). Length rules match cantools: longer data is
    trimmed, shorter data fails to decode.
    """
    if msg.is_container or msg.is_multiplexed():
        return None
    try:
        from cantools.database.utils import create_encode_decode_formats

        formats = create_encode_decode_formats(msg.signals, msg.length)
        big, little = formats.big_endian.unpack, formats.little_endian.unpack
    except Exception:  # pragma: no cover - a cantools version without these helpers
        return None
    length = msg.length
    has_big = any(sig.byte_order == "big_endian" for sig in msg.signals)
    has_little = any(sig.byte_order != "big_endian" for sig in msg.signals)

    def decode(data: bytes) -> dict[str, Any]:
        if len(data) != length:
            if len(data) < length:
                raise DecodeError(f"Wrong data size: {len(data)} instead of {length} bytes")
            data = data[:length]
        if not has_little:
            return big(data)  # type: ignore[no-any-return]
        raw: dict[str, Any] = little(data[::-1])
        if has_big:
            raw.update(big(data))
        return raw

    return decode


def linear(signal: Signal) -> tuple[bool, Any, Any]:
    """``(identity, scale, offset)`` reproducing ``signal.conversion.raw_to_scaled(raw, False)``.

    Mirrors ``BaseConversion.factory`` (identity when scale 1 / offset 0; integer arithmetic when
    both are integral and the signal is not a float); checked against cantools in the tests.
    """
    conv = signal.conversion
    scale, offset = conv.scale, conv.offset
    if scale == 1 and offset == 0:
        return True, 1, 0
    if _integral(scale) and _integral(offset) and not conv.is_float:
        return False, int(scale), int(offset)
    return False, scale, offset


def _integral(value: Any) -> bool:
    return isinstance(value, int) or (isinstance(value, float) and value.is_integer())


def compile_groups(
    db: Database,
    mappings: list[DbcSignalMapping],
    metrics: Mapping[str, MetricDefinition],
    on_type: set[str],
    report: ApplyReport,
) -> dict[int, _Group]:
    """Per frame id: the message's decode function and the compiled fields of its mapped signals.

    A field is marked identity when its decoder already returns scaled values (multiplexed).
    """
    groups: dict[int, _Group] = {}
    scaled_by_decoder: dict[int, bool] = {}
    for mapping in mappings:
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
    return groups


def apply_dbc(
    spec: DbcSpec,
    doc: Any,
    metrics: Mapping[str, MetricDefinition],
    on_type: set[str],
    report: ApplyReport,
) -> list[Reading]:
    db = load_dbc(spec.dbc)
    groups = compile_groups(db, spec.mappings, metrics, on_type, report)
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
    fromhex = bytes.fromhex
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
                data = fromhex(hex_text)
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
