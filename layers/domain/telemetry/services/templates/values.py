"""Compiled building blocks shared by every format: pointers, timestamp parsers, value converters.

Everything here is built once per apply and then called per record, so the per-call work is kept
to type checks and dict lookups; the general (slow) rules are delegated to
:func:`telemetry.models.metrics.coerce_value` so that templates coerce exactly like every other path.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any, Final

from jsonpointer import JsonPointer, JsonPointerException

from telemetry.models.metrics import (
    INT64_MAX,
    INT64_MIN,
    CoercionError,
    DataType,
    MetricDefinition,
    coerce_value,
    number_from_text,
)
from telemetry.models.templates import Transform
from telemetry.services.templates.limits import MAX_TIMESTAMP_MS

_TWO63 = float(2**63)


class _Missing:
    __slots__ = ()

    def __repr__(self) -> str:
        return "MISSING"


MISSING: Final[Any] = _Missing()
"""A pointer that does not resolve (absent key, index out of range, walked into a scalar)."""

# fieldsInvalid reasons
PARSE_FAILED = "parse_failed"
NOT_SCALAR = "not_scalar"
ENUM_UNMAPPED = "enum_unmapped"
OUT_OF_RANGE = "out_of_range"
NOT_INTEGRAL = "not_integral"
INVALID_DEFAULT = "invalid_default"


class InvalidValueError(Exception):
    """Raised by a converter; ``reason`` is the ``fieldsInvalid`` reason."""

    __slots__ = ("reason",)

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


Getter = Callable[[Any], Any]
Converter = Callable[[Any], Any]

# --------------------------------------------------------------------------- pointers


def pointer_parts(pointer: str) -> list[str]:
    """Validate an RFC 6901 pointer with :mod:`jsonpointer` and return its unescaped tokens."""
    return list(_parts(pointer))


@functools.lru_cache(maxsize=4096)
def _parts(pointer: str) -> tuple[str, ...]:
    """Parsed once per pointer text (every apply of a template reads the same pointers; a
    ``JsonPointer`` costs a regex and a list per token). An invalid pointer raises, uncached."""
    return tuple(JsonPointer(pointer).parts)


def pointer_error(pointer: str) -> str | None:
    try:
        JsonPointer(pointer)
    except JsonPointerException as exc:
        return f"invalid JSON Pointer {pointer!r}: {exc}"
    return None


def _index(token: str) -> int | None:
    """The array index a token denotes (RFC 6901: ``0`` or no leading zero), else ``None``."""
    if token.isdigit() and token.isascii() and (token == "0" or token[0] != "0"):
        return int(token)
    return None


def make_getter(parts: list[str]) -> Getter:
    """A function resolving the pre-split pointer against a document; :data:`MISSING` if absent."""
    if not parts:
        return _identity
    if len(parts) == 1:
        key = parts[0]
        idx = _index(key)

        def get1(node: Any) -> Any:
            if type(node) is dict:
                return node.get(key, MISSING)
            if type(node) is list and idx is not None and idx < len(node):
                return node[idx]
            return MISSING

        return get1
    steps = [(p, _index(p)) for p in parts]

    def get_n(node: Any) -> Any:
        for key, idx in steps:
            if type(node) is dict:
                node = node.get(key, MISSING)
                if node is MISSING:
                    return MISSING
            elif type(node) is list and idx is not None and idx < len(node):
                node = node[idx]
            else:
                return MISSING
        return node

    return get_n


def _identity(node: Any) -> Any:
    return node


def single_key(parts: list[str]) -> str | None:
    """The key of a one-token pointer (used by the hot loop to inline ``dict.get``)."""
    return parts[0] if len(parts) == 1 else None


# --------------------------------------------------------------------------- timestamps

TimestampParser = Callable[[Any], "int | None"]
_MAX_TIMESTAMP_S = MAX_TIMESTAMP_MS / 1000
#: epoch ms of a UTC or naive datetime, rounding a sub-millisecond part half up: with
#: ``td = dt - (EPOCH - 0.5 ms)`` (``EPOCH_UTC_HALF``/``EPOCH_NAIVE_HALF``, a normalized timedelta:
#: 0 <= seconds < 86400, 0 <= microseconds < 10**6) it is
#: ``td.days * 86_400_000 + td.seconds * 1000 + td.microseconds // 1000``: exact integer
#: arithmetic on small ints. ``(dt - EPOCH + HALF) // ONE_MS`` gives the same number, but
#: timedelta // timedelta converts both sides to big microsecond ints (1.8x slower, timeit);
#: adding up the datetime's own fields (toordinal, hour, minute...) costs an int object each.
EPOCH_UTC: Final = datetime(1970, 1, 1, tzinfo=UTC)
EPOCH_NAIVE: Final = datetime(1970, 1, 1)
HALF_MS: Final = timedelta(microseconds=500)
EPOCH_UTC_HALF: Final = EPOCH_UTC - HALF_MS
EPOCH_NAIVE_HALF: Final = EPOCH_NAIVE - HALF_MS
_fromiso = datetime.fromisoformat


def ts_iso8601(raw: Any) -> int | None:
    """ISO 8601 text to epoch ms (UTC when no offset; a sub-millisecond part is rounded half up).

    Exact integer arithmetic for UTC/naive values; never ``int(timestamp() * 1000)``, which is off
    by one ms for ~0.6% of millisecond timestamps.
    """
    if type(raw) is not str:
        return None
    try:
        dt = _fromiso(raw)
    except ValueError:
        return None
    tz = dt.tzinfo
    if tz is None or tz is UTC:  # integer arithmetic: faster than dt.timestamp(), and exact
        td = dt - (EPOCH_UTC_HALF if tz is UTC else EPOCH_NAIVE_HALF)
        ms: int = td.days * 86_400_000 + td.seconds * 1000 + td.microseconds // 1000
        return ms if 0 <= ms <= MAX_TIMESTAMP_MS else None
    seconds = dt.timestamp()
    if not 0 <= seconds <= _MAX_TIMESTAMP_S:
        return None
    return int(seconds * 1000 + 0.5)


def not_after(parse: TimestampParser, latest: int) -> TimestampParser:
    """``parse``, refusing (``None``: ``invalid_timestamp``) times after ``latest``: the one
    future rule (:func:`telemetry.clock.latest_accepted_ms`) on the template paths."""

    def bounded(raw: Any) -> int | None:
        ts = parse(raw)
        return ts if ts is not None and ts <= latest else None

    return bounded


def _number(raw: Any) -> int | float | None:
    t = type(raw)
    if t is int or t is float:
        return raw  # type: ignore[no-any-return]
    if t is str:
        try:
            value = number_from_text(raw)
        except CoercionError:
            return None
        return value if math.isfinite(value) else None
    return None  # bool, None, containers


def ts_epoch_ms(raw: Any) -> int | None:
    value = raw if type(raw) is int else _number(raw)
    if value is None:
        return None
    ms = value if type(value) is int else round(value)
    return ms if 0 <= ms <= MAX_TIMESTAMP_MS else None


def ts_epoch_s(raw: Any) -> int | None:
    value = _number(raw)
    if value is None:
        return None
    ms = value * 1000 if type(value) is int else round(value * 1000)
    return ms if 0 <= ms <= MAX_TIMESTAMP_MS else None


def ts_auto(raw: Any) -> int | None:
    """Numbers (and numeric strings) are epoch ms; other strings ISO 8601."""
    t = type(raw)
    if t is int or t is float:
        return ts_epoch_ms(raw)
    if t is str:
        parsed = ts_epoch_ms(raw)
        return parsed if parsed is not None else ts_iso8601(raw)
    return None


TIMESTAMP_PARSERS: Mapping[str, TimestampParser] = {
    "iso8601": ts_iso8601,
    "epoch_ms": ts_epoch_ms,
    "epoch_s": ts_epoch_s,
    "auto": ts_auto,
}

# --------------------------------------------------------------------------- converters


def _slow(metric: MetricDefinition, fail_reason: str) -> Converter:
    """General path through :func:`coerce_value` (range checked separately by the caller)."""

    def conv(raw: Any) -> Any:
        if type(raw) is dict or type(raw) is list:
            raise InvalidValueError(NOT_SCALAR)
        try:
            return coerce_value(metric, raw)
        except CoercionError:
            raise InvalidValueError(fail_reason) from None

    return conv


def enum_key(raw: Any) -> str | None:
    """The ``enumMap`` key for a source value: strings as-is, numbers/booleans as JSON text."""
    t = type(raw)
    if t is str:
        return raw  # type: ignore[no-any-return]
    if t is bool:
        return "true" if raw else "false"
    if t is int:
        return str(raw)
    if t is float:
        return str(int(raw)) if raw.is_integer() else repr(raw)
    return None


def decimal_divisor(scale: float) -> int:
    """``n`` when ``scale == 1/n`` for an integer ``|n| > 1`` (0.1 → 10), else 0."""
    if not scale:
        return 0
    inverse = round(1 / scale)
    return inverse if abs(inverse) > 1 and abs(1 / scale - inverse) < 1e-9 * abs(inverse) else 0


def fast_path(
    metric: MetricDefinition,
    transform: Transform | None = None,
    enum_map: Mapping[str, int] | None = None,
    labels: Mapping[int, str] | None = None,
) -> tuple[str, Any, Any] | None:
    """An inline shortcut the generated record loop may use before calling the converter.

    ``("type", T, None)``: a value of exact type ``T`` is stored unchanged; ``("int", None, None)``:
    an int in the 64-bit range is stored unchanged; ``("str", None, None)``: a non-empty str is
    stored unchanged; ``("enum", table, None)``: a string key of ``enumMap`` stores its code;
    ``("div", n, offset)``: an int is stored as ``raw / n + offset``.
    Each shortcut gives exactly what the converter would; anything else goes to the converter.
    """
    if labels or metric.validRange is not None:
        return None
    if enum_map is not None:
        return ("enum", dict(enum_map), None) if metric.is_enum else None
    if transform is not None:
        divisor = decimal_divisor(transform.scale)
        if metric.dataType is DataType.Double and divisor:
            return ("div", divisor, transform.offset)
        return None
    passthrough = passthrough_type(metric)
    if passthrough is not _Never:
        return ("type", passthrough, None)
    if metric.dataType is DataType.Int and not metric.is_enum:
        return ("int", None, None)
    if metric.dataType is DataType.String:
        return ("str", None, None)  # conv_str: a non-empty str as-is ("" goes on to be refused)
    return None


def _as_code(raw: Any) -> int | None:
    t = type(raw)
    if t is int:
        return raw  # type: ignore[no-any-return]
    if t is float and raw.is_integer():
        return int(raw)
    return None


def make_converter(
    metric: MetricDefinition,
    transform: Transform | None = None,
    enum_map: Mapping[str, int] | None = None,
    labels: Mapping[int, str] | None = None,
) -> Converter:
    """Compile the value rules of one mapping: raw scalar → stored value, or :class:`InvalidValueError`.

    ``labels`` (DBC signal choices) turns a raw code into its label before ``enumMap`` and for
    ``String`` metrics.
    """
    unranged = metric if metric.validRange is None else metric.model_copy(update={"validRange": None})
    rng = metric.validRange
    lo = -math.inf if rng is None or rng.min is None else rng.min
    hi = math.inf if rng is None or rng.max is None else rng.max
    ranged = rng is not None
    dtype = metric.dataType

    if enum_map is not None:
        table = dict(enum_map)

        def conv_enum_map(raw: Any) -> Any:
            if labels is not None:
                code = _as_code(raw)
                label = labels.get(code) if code is not None else None
                if label is not None and label in table:
                    return table[label]
            key = enum_key(raw)
            if key is None:
                raise InvalidValueError(NOT_SCALAR)
            code = table.get(key)
            if code is None:
                raise InvalidValueError(ENUM_UNMAPPED)
            return code

        return conv_enum_map

    if transform is not None:
        scale, offset, is_int = transform.scale, transform.offset, dtype is DataType.Int
        # A decimal scale (0.1, 0.01, 0.5, ...) is applied as a division by its integer reciprocal:
        # 523 / 10 is exactly 52.3 where 523 * 0.1 is 52.300000000000004.
        divisor = decimal_divisor(scale)

        def conv_transform(raw: Any) -> Any:
            t = type(raw)
            if t is int or t is float:
                number: float = raw
            elif t is dict or t is list:
                raise InvalidValueError(NOT_SCALAR)
            else:
                parsed = _number(raw)
                if parsed is None:
                    raise InvalidValueError(PARSE_FAILED)
                number = parsed
            value = (number / divisor if divisor else number * scale) + offset
            if not math.isfinite(value):
                raise InvalidValueError(PARSE_FAILED)
            if is_int:
                nearest = round(value)
                if abs(value - nearest) > 1e-9 * max(1.0, abs(value)):
                    raise InvalidValueError(NOT_INTEGRAL)
                if not INT64_MIN <= nearest <= INT64_MAX:
                    raise InvalidValueError(OUT_OF_RANGE)
                value = nearest
            if not lo <= value <= hi:
                raise InvalidValueError(OUT_OF_RANGE)
            return value

        return conv_transform

    if metric.is_enum:
        return _slow(metric, ENUM_UNMAPPED)

    slow = _slow(unranged, PARSE_FAILED)

    if dtype is DataType.Double:

        def conv_double(raw: Any) -> Any:
            t = type(raw)
            if t is float:
                value = raw
            elif t is int:
                value = float(raw)
            else:
                value = slow(raw)
            if ranged and not lo <= value <= hi:
                raise InvalidValueError(OUT_OF_RANGE)
            return value

        return conv_double

    if dtype is DataType.Int:

        def conv_int(raw: Any) -> Any:
            t = type(raw)
            if t is int and INT64_MIN <= raw <= INT64_MAX:
                value = raw
            elif t is float and raw.is_integer() and -_TWO63 < raw < _TWO63:
                value = int(raw)
            else:
                value = slow(raw)  # coerce_value: the one Int range rule
            if ranged and not lo <= value <= hi:
                raise InvalidValueError(OUT_OF_RANGE)
            return value

        return conv_int

    if dtype is DataType.Bool:

        def conv_bool(raw: Any) -> Any:
            return raw if type(raw) is bool else slow(raw)

        return conv_bool

    if dtype is DataType.String and labels:

        def conv_label(raw: Any) -> Any:
            code = _as_code(raw)
            label = labels.get(code) if code is not None else None
            return label if label else slow(raw)

        return conv_label

    if dtype is DataType.String:

        def conv_str(raw: Any) -> Any:
            return raw if type(raw) is str and raw else slow(raw)  # slow: refuses ""

        return conv_str

    raise ValueError(f"templates do not support {dtype.value} metrics")  # Json: refused at validation


class _Never:
    """A type no value has: the pass-through type of converters that always need to run."""


def passthrough_type(
    metric: MetricDefinition,
    transform: Transform | None = None,
    enum_map: Mapping[str, int] | None = None,
    labels: Mapping[int, str] | None = None,
) -> type:
    """The raw type a mapping may store unchanged (checked inline by the hot loops), else ``_Never``."""
    if transform is not None or enum_map is not None or labels or metric.validRange is not None:
        return _Never
    if metric.dataType is DataType.Double:
        return float
    if metric.dataType is DataType.Bool:
        return bool
    return _Never


def coerce_default(metric: MetricDefinition, default: Any) -> Any:
    """The stored form of a mapping's ``default`` (written as-is: never transformed or enum-mapped)."""
    return coerce_value(metric, default)
