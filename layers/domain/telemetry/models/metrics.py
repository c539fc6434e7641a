"""Metric definitions and the coercion of raw values to a metric's data type.

``coerce_value`` is the single rule every ingestion path (frames, templates, dialects) uses.
"""

from __future__ import annotations

import math
import re
from typing import Annotated, Any

from pydantic import BeforeValidator, Field, field_validator, model_validator

from telemetry.models.base import ApiModel, OutModel, json_int, with_examples
from telemetry.models.types import EMPTY_STRING, INT64_MAX, INT64_MIN, Aggregation, DataType

__all__ = [
    "Aggregation",
    "CoercionError",
    "DataType",
    "MetricCreate",
    "MetricDefinition",
    "coerce_value",
    "in_int64",
    "int64",
    "number_from_text",
]


NUMERIC_TYPES = frozenset({DataType.Double, DataType.Int})


class EnumValue(ApiModel):
    code: Annotated[int, Field(ge=INT64_MIN, le=INT64_MAX), BeforeValidator(json_int)]
    label: str = Field(min_length=1, max_length=128)


class ValidRange(ApiModel):
    """Inclusive bounds enforced at ingestion. Either may be omitted."""

    min: float | None = Field(default=None, allow_inf_nan=False, strict=True)
    max: float | None = Field(default=None, allow_inf_nan=False, strict=True)

    @model_validator(mode="after")
    def _ordered(self) -> ValidRange:
        if self.min is not None and self.max is not None and self.min > self.max:
            raise ValueError("min must not exceed max")
        return self


NAME_PATTERN = r"^[A-Za-z][A-Za-z0-9_.\-]{0,127}$"


class MetricCreate(ApiModel):
    name: str = Field(pattern=NAME_PATTERN)
    displayName: str | None = Field(default=None, max_length=256)
    description: str | None = Field(default=None, max_length=2048)
    dataType: DataType
    defaultAggregation: Aggregation
    unitLabel: str | None = Field(default=None, max_length=64)
    enumValues: list[EnumValue] | None = Field(default=None, max_length=1000)
    validRange: ValidRange | None = None

    @field_validator("enumValues")
    @classmethod
    def _unique_enum(cls, values: list[EnumValue] | None) -> list[EnumValue] | None:
        if values is None:
            return None
        if not values:
            raise ValueError("must list at least one code/label pair")
        codes = [v.code for v in values]
        labels = [v.label.casefold() for v in values]
        if len(set(codes)) != len(codes):
            raise ValueError("codes must be unique")
        if len(set(labels)) != len(labels):
            raise ValueError("labels must be unique (case-insensitively)")
        return values

    @model_validator(mode="after")
    def _consistent(self) -> MetricCreate:
        if self.enumValues is not None and self.dataType is not DataType.Int:
            raise ValueError("enumValues is only allowed on Int metrics")
        if self.validRange is not None and self.dataType not in NUMERIC_TYPES:
            raise ValueError("validRange is only allowed on Double and Int metrics")
        numeric_aggs = {Aggregation.Avg, Aggregation.Sum, Aggregation.Min, Aggregation.Max}
        if self.defaultAggregation in numeric_aggs and (
            self.dataType not in NUMERIC_TYPES or self.enumValues is not None
        ):
            raise ValueError(f"defaultAggregation {self.defaultAggregation} needs a numeric, non-enum metric")
        return self

    model_config = with_examples(
        {
            "name": "soc",
            "displayName": "State of Charge",
            "description": "Battery state of charge, 0-100",
            "dataType": "Double",
            "defaultAggregation": "Last",
            "unitLabel": "%",
        }
    )


class MetricDefinition(OutModel):
    id: str
    name: str
    displayName: str | None = None
    description: str | None = None
    dataType: DataType
    defaultAggregation: Aggregation
    unitLabel: str | None = None
    enumValues: list[EnumValue] | None = None
    validRange: ValidRange | None = None
    deleted: bool = False
    createdAt: str

    @property
    def is_enum(self) -> bool:
        return self.dataType is DataType.Int and bool(self.enumValues)

    @property
    def is_numeric(self) -> bool:
        return self.dataType in NUMERIC_TYPES and not self.is_enum


class CoercionError(ValueError):
    """Raised by :func:`coerce_value`; the message is safe to show to the caller."""


_TRUE = {"true", "1", "yes", "on"}
_FALSE = {"false", "0", "no", "off"}


def coerce_value(metric: MetricDefinition, raw: Any) -> Any:
    """Coerce a scalar to the metric's data type and check its valid range.

    Rules: numbers from numbers or numeric strings (no NaN/Infinity); Int accepts integral floats
    (``3.0``) but not ``3.5``; enum-shaped Int accepts the code or the label (case-insensitive);
    Bool accepts booleans, 0/1 and true/false strings; String accepts any scalar (stringified) but
    not the empty string;
    Json accepts any JSON value. Booleans are never numbers.
    """
    dtype = metric.dataType
    if dtype is DataType.Json:
        return raw
    if raw is None or isinstance(raw, dict | list):
        raise CoercionError(f"expected a scalar {dtype.value}, got {_kind(raw)}")
    if dtype is DataType.String:
        if isinstance(raw, bool):
            return "true" if raw else "false"
        if raw == "":
            raise CoercionError(EMPTY_STRING)
        return str(raw)
    if dtype is DataType.Bool:
        if isinstance(raw, bool):
            return raw
        if isinstance(raw, int | float) and raw in (0, 1):
            return bool(raw)
        if isinstance(raw, str) and raw.strip().lower() in _TRUE | _FALSE:
            return raw.strip().lower() in _TRUE
        raise CoercionError(f"expected a boolean, got {raw!r}")
    if isinstance(raw, bool):
        raise CoercionError(f"expected a number, got boolean {raw!r}")
    if dtype is DataType.Int and metric.enumValues:
        return _coerce_enum(metric, raw)
    number = _to_number(raw)
    number = int64(number, raw) if dtype is DataType.Int else float(number)
    _check_range(metric, number)
    return number


def in_int64(value: int) -> bool:
    return INT64_MIN <= value <= INT64_MAX


def int64(number: int | float, raw: Any = None) -> int:
    """``number`` as a 64-bit integer, or :class:`CoercionError`: the one Int range rule.

    A float must be integral and strictly inside (-2**63, 2**63): JSON integers beyond 64 bits
    reach us as floats (orjson), rounded, so ``-9223372036854775809`` must not become ``-2**63``.
    """
    if isinstance(number, float):
        if not number.is_integer():
            raise CoercionError(f"expected an integer, got {number if raw is None else raw!r}")
        if not -_TWO63 < number < _TWO63:
            raise CoercionError("integer out of 64-bit range")
        return int(number)
    if not INT64_MIN <= number <= INT64_MAX:
        raise CoercionError("integer out of 64-bit range")
    return number


_TWO63 = float(2**63)


#: JSON's number syntax (RFC 8259 section 6), ASCII digits only
_JSON_NUMBER = re.compile(r"-?(?:0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?", re.ASCII)
#: longer numeric strings are refused before int() (CPython refuses > 4,300 digits itself)
MAX_NUMBER_TEXT = 400


def number_from_text(raw: str) -> int | float:
    """A numeric string as a number: the one rule of every path that accepts numbers as text.

    Only JSON number syntax with ASCII digits, optionally padded with spaces or tabs: Python's
    int()/float() would also take ``"1_000"``, ``"١٢"`` (Arabic-Indic digits), ``"+5"``,
    ``"inf"`` and Unicode spaces. Integers stay ints; the result may be a non-finite float
    (``"1e400"``), which callers refuse.
    """
    text = raw.strip(" \t")
    match = _JSON_NUMBER.fullmatch(text) if len(text) <= MAX_NUMBER_TEXT else None
    if match is None:
        raise CoercionError(f"expected a number, got {raw[:64]!r}")
    return float(text) if match.group(1) or match.group(2) else int(text)


def _to_number(raw: Any) -> int | float:
    if isinstance(raw, int | float):
        value: int | float = raw
    elif isinstance(raw, str):
        value = number_from_text(raw)
    else:
        raise CoercionError(f"expected a number, got {_kind(raw)}")
    if isinstance(value, float) and not math.isfinite(value):
        raise CoercionError("number must be finite")
    return value


def _coerce_enum(metric: MetricDefinition, raw: Any) -> int:
    assert metric.enumValues is not None
    if isinstance(raw, str):
        wanted = raw.strip().casefold()
        for ev in metric.enumValues:
            if ev.label.casefold() == wanted:
                return ev.code
        try:
            raw = int(wanted)
        except ValueError:
            raise CoercionError(f"{raw!r} is not a label or code of this enum") from None
    if isinstance(raw, float) and raw.is_integer():
        raw = int(raw)
    if isinstance(raw, int):
        for ev in metric.enumValues:
            if ev.code == raw:
                return raw
    raise CoercionError(f"{raw!r} is not a label or code of this enum")


def _check_range(metric: MetricDefinition, number: float | int) -> None:
    rng = metric.validRange
    if rng is None:
        return
    if rng.min is not None and number < rng.min:
        raise CoercionError(f"{number} is below the valid range minimum {rng.min}")
    if rng.max is not None and number > rng.max:
        raise CoercionError(f"{number} is above the valid range maximum {rng.max}")


def _kind(raw: Any) -> str:
    if raw is None:
        return "null"
    if isinstance(raw, dict):
        return "an object"
    if isinstance(raw, list):
        return "an array"
    return type(raw).__name__
