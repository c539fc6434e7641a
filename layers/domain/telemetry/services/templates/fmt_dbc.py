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
from dataclasses import dataclass
from dataclasses import field as dataclass_field
from typing import Any

import cantools
from cantools.database.can import Database, Message, Signal
from cantools.database.errors import DecodeError

from telemetry.clock import latest_accepted_ms
from telemetry.models.metrics import DataType, MetricDefinition
from telemetry.models.templates import DbcSignalMapping, DbcSpec
from telemetry.services.templates.engine import BAD_DEFAULT, compile_factory, compile_field, finish, usable_metric
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


@functools.lru_cache(maxsize=1024)
def message_decoder(msg: Message) -> tuple[Callable[[bytes], dict[str, Any]], bool]:
    """``(decode, scaled)`` for one message of a (cached) database, built once per message.

    ``decode`` is :func:`fast_decoder` (raw values: ``scaled`` False) or, for multiplexed and
    container messages, ``Message.decode_simple`` without choices (values already scaled). Building
    the bitstruct formats was most of a 1,000-frame apply's fixed cost.
    """
    fast = fast_decoder(msg)
    if fast is not None:
        return fast, False
    return functools.partial(msg.decode_simple, decode_choices=False), True


@functools.lru_cache(maxsize=32)
def known_frame_ids(db: Database) -> frozenset[int]:
    return frozenset(msg.frame_id for msg in db.messages)


@functools.lru_cache(maxsize=4096)
def _cached_signal(db: Database, name: str) -> tuple[Message, Signal] | str:
    return resolve_signal(db, name)


@dataclass(slots=True)
class _Group:
    """One mapped message: its decoder and its compiled fields, in mapping order."""

    decode: Callable[[bytes], dict[str, Any]]
    always_present: bool
    """True for :func:`fast_decoder`: every signal of the message is in every decoded dict."""
    fields: list[_FieldTuple] = dataclass_field(default_factory=list)
    fast: list[tuple[str, Any, Any] | None] = dataclass_field(default_factory=list)
    kinds: list[str] = dataclass_field(default_factory=list)
    """Per field, what its decoded value is known to be before any check (:func:`value_kind`)."""


def value_kind(sig: Signal, identity: bool, scale: Any, offset: Any) -> str:
    """What ``raw`` (after ``raw * scale + offset``) always is, for a :func:`fast_decoder` message.

    bitstruct returns a float for a float signal (``f16/32/64``) and an int for any other (``s``/``u``
    of the signal's length); an int times or plus a float is a float. ``"int64"``: an int that always
    fits in 64 signed bits (an unscaled signed signal of at most 64 bits or unsigned of at most 63);
    ``"int"``, ``"float"``; ``""`` when the conversion has other number types (never in cantools).
    """
    if type(scale) not in (int, float) or type(offset) not in (int, float):
        return ""
    if sig.is_float or type(scale) is float or type(offset) is float:
        return "float"
    if identity and sig.length <= (64 if sig.is_signed else 63):
        return "int64"
    return "int"


def compile_groups(
    db: Database,
    mappings: list[DbcSignalMapping],
    metrics: Mapping[str, MetricDefinition],
    on_type: set[str],
    report: ApplyReport,
) -> dict[int, _Group]:
    """Per frame id: the message's decoder and the compiled fields of its mapped signals.

    A field is marked identity when its decoder already returns scaled values (multiplexed).
    """
    groups: dict[int, _Group] = {}
    for mapping in mappings:
        metric = metrics.get(mapping.metricId)
        resolved = _cached_signal(db, mapping.signal)
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
        group = groups.get(msg.frame_id)
        if group is None:
            decode, scaled = message_decoder(msg)
            group = groups[msg.frame_id] = _Group(decode, not scaled)
        identity, scale, offset = (True, 1, 0) if not group.always_present else linear(sig)
        group.fields.append(
            (sig.name, identity, scale, offset, field.metric_id, field.passthrough, field.conv, field.default)
        )
        group.fast.append(field.fast)
        group.kinds.append(value_kind(sig, identity, scale, offset) if group.always_present else "")
    return groups


# --------------------------------------------------------------------------- the generated per-message code

_FACTORIES: dict[Any, Any] = {}
_FAST_TESTS = {
    "type": ("type(raw) is P{i}", "raw"),
    "int": ("type(raw) is int and -9223372036854775808 <= raw <= 9223372036854775807", "raw"),
    "enum": ("type(raw) is str and (code := P{i}.get(raw)) is not None", "code"),
    "div": ("type(raw) is int", "raw / P{i} + Q{i}"),
}


def _default_kind(default: Any) -> str:
    return "missing" if default is MISSING else "bad" if default is BAD_DEFAULT else "value"


def _static_check(fast: tuple[str, Any, Any] | None, kind: str) -> str:
    """How a field's fast-path test resolves when the decoded value's type is known (``kind``).

    ``"pure"``: the test always passes, so the stored value is an expression of ``raw`` (no test, no
    converter); ``"conv"``: it never passes, straight to the converter; ``"check"``: test at run time.
    """
    if not kind:
        return "check"
    fast_kind, table, _offset = fast if fast else ("", None, None)
    if fast_kind == "type":
        return "pure" if table is float and kind == "float" else "conv"
    if fast_kind == "int":
        return {"int64": "pure", "int": "check"}.get(kind, "conv")
    if fast_kind == "div":
        return "conv" if kind == "float" else "pure"
    return "conv"  # "enum" wants a str (a decoded value is a number); no fast path: the converter


def _message_factory(shape: tuple[bool, tuple[tuple[bool, str, str, str], ...]]) -> Any:
    """Generate (once per shape) a message's frame function: decode, then every field unrolled.

    ``run(data)`` returns the frame's ``{metricId: value}`` or the decoder's exception. Like the
    JsonPointer record loop (``engine._loop_factory``), the source holds only fixed code and
    numbered names (``K0``, ``C0``...): signal names, metric ids, scales, converters and defaults
    are arguments of the factory, so nothing from a template or a DBC is ever compiled as code.
    The statements are those of the per-field loop they replace, specialised by the field's shape
    (identity or linear conversion, inline fast path, kind of default). When the decoded value's
    type is known (:func:`value_kind`, plain messages), a fast-path test whose outcome is fixed is
    resolved here (:func:`_static_check`): the leading fields that need neither a test nor a
    converter are built as one dict display.
    """
    factory = _FACTORIES.get(shape)
    if factory is not None:
        return factory
    always_present, field_shapes = shape
    params = ["DECODE", "MISSING", "INVALID_DEFAULT", "InvalidValueError", "missing", "invalid"]
    body = [
        "        try:",
        "            d = DECODE(data)",
        "        except Exception as exc:  # cantools: DecodeError, bitstruct errors, ValueError ...",
        "            return exc",
    ]
    display: list[str] = []  # the leading "pure" fields, as one dict display
    rest: list[str] = []
    for i, (identity, fast_kind, default_kind, static) in enumerate(field_shapes):
        params += [f"K{i}", f"S{i}", f"O{i}", f"M{i}", f"C{i}", f"D{i}", f"P{i}", f"Q{i}"]
        scaled = f"d[K{i}]" if identity else f"d[K{i}] * S{i} + O{i}"
        if always_present and static == "pure":
            expr = f"({scaled}) / P{i} + Q{i}" if fast_kind == "div" else scaled
            if rest:
                rest.append(f"        values[M{i}] = {expr}")
            else:
                display.append(f"M{i}: {expr}")
            continue
        absent = {
            "missing": [f"missing[M{i}] = missing.get(M{i}, 0) + 1"],
            "bad": [f"invalid[(M{i}, INVALID_DEFAULT)] = invalid.get((M{i}, INVALID_DEFAULT), 0) + 1"],
            "value": [f"values[M{i}] = D{i}"],
        }[default_kind]
        if always_present:
            rest.append(f"        raw = {scaled}")
            indent = "        "
        else:  # a multiplexed message: the signal may not be in this frame's branch
            rest += [f"        raw = d.get(K{i}, MISSING)", "        if raw is MISSING:"]
            rest += ["            " + line for line in absent]
            rest.append("        else:")
            indent = "            "
            if not identity:
                rest.append(f"{indent}raw = raw * S{i} + O{i}")
        test = _FAST_TESTS.get(fast_kind) if not always_present or static == "check" else None
        if test is not None:
            rest += [
                f"{indent}if {test[0].format(i=i)}:",
                f"{indent}    values[M{i}] = {test[1].format(i=i)}",
                f"{indent}else:",
            ]
            indent += "    "
        rest += [
            f"{indent}try:",
            f"{indent}    values[M{i}] = C{i}(raw)",
            f"{indent}except InvalidValueError as exc:",
            f"{indent}    invalid[(M{i}, exc.reason)] = invalid.get((M{i}, exc.reason), 0) + 1",
        ]
    if rest:
        body += [f"        values = {{{', '.join(display)}}}", *rest, "        return values"]
    else:
        body.append(f"        return {{{', '.join(display)}}}")
    lines = [
        f"def factory({', '.join(params)}):",
        "    def run(data):",
        *body,
        "    return run",
    ]
    return compile_factory(lines, "<dbc-message-fields>", _FACTORIES, shape)


def message_function(
    group: _Group, missing: dict[str, int], invalid: dict[tuple[str, str], int]
) -> Callable[[bytes], Any]:
    """The generated frame function of one mapped message, bound to this apply's report counters."""
    shapes = tuple(
        (identity, fast[0] if fast else "", _default_kind(default), _static_check(fast, kind))
        for (_s, identity, _sc, _o, _m, _p, _c, default), fast, kind in zip(
            group.fields, group.fast, group.kinds, strict=True
        )
    )
    args: dict[str, Any] = {
        "DECODE": group.decode,
        "MISSING": MISSING,
        "INVALID_DEFAULT": INVALID_DEFAULT,
        "InvalidValueError": InvalidValueError,
        "missing": missing,
        "invalid": invalid,
    }
    for i, ((sig_name, _identity, scale, offset, mid, _p, conv, default), fast) in enumerate(
        zip(group.fields, group.fast, strict=True)
    ):
        args.update({f"K{i}": sig_name, f"S{i}": scale, f"O{i}": offset, f"M{i}": mid, f"C{i}": conv, f"D{i}": default})
        args[f"P{i}"], args[f"Q{i}"] = (fast[1], fast[2]) if fast else (None, None)
    return _message_factory((group.always_present, shapes))(**args)  # type: ignore[no-any-return]


def apply_dbc(
    spec: DbcSpec,
    doc: Any,
    metrics: Mapping[str, MetricDefinition],
    on_type: set[str],
    report: ApplyReport,
) -> list[Reading]:
    db = load_dbc(spec.dbc)
    missing: dict[str, int] = {}
    invalid = report.fieldsInvalid
    runs = {
        fid: message_function(group, missing, invalid)
        for fid, group in compile_groups(db, spec.mappings, metrics, on_type, report).items()
    }
    known = known_frame_ids(db)
    by_pgn = j1939_index(db)
    if by_pgn:
        from cantools.j1939 import pgn_from_frame_id
    frames = resolve_records(doc, spec.recordsPointer, MAX_DBC_FRAMES)
    latest = min(MAX_TIMESTAMP_MS, latest_accepted_ms())
    ms_fast = spec.timestampFormat.value in ("auto", "epoch_ms")
    parse_ts = not_after(TIMESTAMP_PARSERS[spec.timestampFormat.value], latest)
    merged: dict[int, dict[str, Any]] = {}
    skip = report.skip
    fromhex = bytes.fromhex
    setdefault = merged.setdefault
    pgn_owner: dict[int, int] = {}  # a J1939 id seen before -> the DBC message's id

    def resolve(index: int, raw_id: Any) -> Callable[[bytes], Any] | None:
        """The frame function of an id that is not a mapped message's own int id (or None, reported)."""
        fid = raw_id if type(raw_id) is int and 0 <= raw_id <= 0x7FF else frame_id(raw_id)
        if fid is None:
            skip(index, "invalid_frame_id", raw_id, with_value=True)
            return None
        run = runs.get(fid)
        if run is None and by_pgn and fid > 0x7FF and fid not in known:
            owner = pgn_owner.get(fid)
            if owner is None:
                owner = pgn_owner[fid] = by_pgn.get(pgn_from_frame_id(fid), fid)
            fid = owner
            run = runs.get(fid)
        if run is None:
            if fid in known:
                skip(index, "no_metric_values")
            else:
                skip(index, "unknown_frame_id", raw_id, with_value=True)
        return run

    def checked(index: int, frame: Any) -> tuple[Callable[[bytes], Any], int, bytes] | None:
        """Every check of a frame, in the order of the report's reasons: ``(run, ts, data)`` or None
        (reported). The main loop's fast path takes only frames that pass all of them."""
        if type(frame) is not dict:
            skip(index, "invalid_frame", frame, with_value=True)
            return None
        raw_id = frame.get("id")
        run = runs.get(raw_id) if type(raw_id) is int else None
        if run is None:
            run = resolve(index, raw_id)
            if run is None:
                return None
        raw_ts = frame.get("timestamp")
        ts: int | None
        if type(raw_ts) is int and ms_fast and 0 <= raw_ts <= latest:
            ts = raw_ts
        elif raw_ts is None:
            skip(index, "missing_timestamp")
            return None
        else:
            ts = parse_ts(raw_ts)
            if ts is None:
                skip(index, "invalid_timestamp", raw_ts, with_value=True)
                return None
        data = _frame_data(frame)
        if data is None:
            skip(index, "invalid_frame_data")
            return None
        return run, ts, data

    for index, frame in enumerate(frames):
        # The fast path: a frame object with an int id of a mapped message, an epoch-ms timestamp in
        # range and plain hex data. It only reads the frame; anything else goes through `checked`.
        try:
            raw_id = frame["id"]
            ts = frame["timestamp"]
            run = runs[raw_id] if type(raw_id) is int else None
            data = fromhex(frame["data"]) if type(ts) is int and ms_fast and 0 <= ts <= latest else None
        except (KeyError, TypeError, ValueError):  # a key missing, not an object, not plain hex
            run = None
        if run is None or data is None or "dataBase64" in frame:
            found = checked(index, frame)
            if found is None:
                continue
            run, ts, data = found
        values = run(data)
        if type(values) is not dict:  # the decoder's exception
            skip(index, "decode_failed", str(values) or type(values).__name__, with_value=True)
            continue
        if not values:
            skip(index, "no_metric_values")
            continue
        existing = setdefault(ts, values)
        if existing is not values:
            existing.update(values)
    finish(report, merged, missing, len(frames))
    return list(merged.items())
