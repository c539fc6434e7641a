"""coerce_value: the one rule every ingestion path uses to type a raw value."""

from __future__ import annotations

from typing import Any

import pytest
from telemetry.models.metrics import CoercionError, MetricDefinition, coerce_value


def m(data_type: str, **kw: Any) -> MetricDefinition:
    return MetricDefinition(
        id="mdef_x", name="x", dataType=data_type, defaultAggregation="Last", createdAt="2024-01-01T00:00:00Z", **kw
    )


@pytest.mark.parametrize(
    ("dtype", "raw", "expected"),
    [
        ("Double", 1, 1.0),
        ("Double", "52.3", 52.3),
        ("Int", 3.0, 3),
        ("Int", "42", 42),
        ("Bool", True, True),
        ("Bool", 0, False),
        ("Bool", "TRUE", True),
        ("String", 12, "12"),
        ("String", False, "false"),
        ("Json", {"a": [1]}, {"a": [1]}),
    ],
)
def test_coerces(dtype: str, raw: Any, expected: Any) -> None:
    out = coerce_value(m(dtype), raw)
    assert out == expected and type(out) is type(expected)


@pytest.mark.parametrize(
    ("dtype", "raw"),
    [
        ("Double", "abc"),
        ("Double", True),
        ("Double", "NaN"),
        ("Double", None),
        ("Double", [1]),
        ("Int", 3.5),
        ("Int", 2**64),
        ("Bool", 2),
        ("Bool", "maybe"),
        ("String", {"a": 1}),
        ("String", ""),  # Timestream cannot store it: one rule for both stores
    ],
)
def test_refuses(dtype: str, raw: Any) -> None:
    with pytest.raises(CoercionError):
        coerce_value(m(dtype), raw)


def test_enum_accepts_code_or_label() -> None:
    metric = m("Int", enumValues=[{"code": 1, "label": "RUNNING"}, {"code": 2, "label": "FAULT"}])
    assert coerce_value(metric, "running") == 1
    assert coerce_value(metric, 2) == 2
    assert coerce_value(metric, "2") == 2
    with pytest.raises(CoercionError):
        coerce_value(metric, 7)
    with pytest.raises(CoercionError):
        coerce_value(metric, "IDLE")


def test_valid_range_is_inclusive() -> None:
    metric = m("Double", validRange={"min": 0, "max": 100})
    assert coerce_value(metric, 100) == 100.0
    with pytest.raises(CoercionError, match="above"):
        coerce_value(metric, 100.01)
    with pytest.raises(CoercionError, match="below"):
        coerce_value(metric, -1)


@pytest.mark.parametrize(
    "raw", [2**63, 2**64 - 1, -(2**63) - 1, 9.3e18, -9.223372036854775808e18, 1e300, "9223372036854775808"]
)
def test_int_beyond_64_bits_is_refused(raw: Any) -> None:
    """Issue 8.5: these were accepted at the door and refused by the writer (dead-lettered)."""
    with pytest.raises(CoercionError, match="64-bit"):
        coerce_value(m("Int"), raw)


@pytest.mark.parametrize("raw", [2**63 - 1, -(2**63), "-9223372036854775808"])
def test_int64_edges_are_accepted(raw: Any) -> None:
    assert coerce_value(m("Int"), raw) == int(raw)


@pytest.mark.parametrize(
    "raw", ["1_000", "\u0661\u0662", "+5", "inf", "NaN", "0x10", "1e", ".5", "\u20071", "9" * 5000, "1 000"]
)
def test_numbers_as_text_follow_json_syntax(raw: str) -> None:
    with pytest.raises(CoercionError):
        coerce_value(m("Double"), raw)


@pytest.mark.parametrize(("raw", "expected"), [(" 1.5\t", 1.5), ("-0", 0.0), ("1e3", 1000.0), ("007", None)])
def test_json_number_text_is_accepted(raw: str, expected: float | None) -> None:
    if expected is None:
        with pytest.raises(CoercionError):
            coerce_value(m("Double"), raw)
    else:
        assert coerce_value(m("Double"), raw) == expected
