"""Measure data types and aggregations: plain enums, no pydantic (the writer imports only these)."""

from __future__ import annotations

from enum import StrEnum

#: the range of an Int measure (Timestream BIGINT, a signed 64-bit integer)
INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1
#: One rule for both stores and every path: Timestream cannot store an empty measure value, so no
#: String value may be empty (refused at the door, not dead-lettered by one backend and kept by the other).
EMPTY_STRING = "a String must not be empty (1 character or more)"


class DataType(StrEnum):
    Double = "Double"
    Int = "Int"
    Bool = "Bool"
    String = "String"
    Json = "Json"


class Aggregation(StrEnum):
    Last = "Last"
    First = "First"
    Avg = "Avg"
    Sum = "Sum"
    Min = "Min"
    Max = "Max"
    Count = "Count"


def name_key(name: str) -> str:
    """The key under which a metric or property name is matched: ASCII case-insensitively.

    Names are ASCII by their pattern (``^[A-Za-z][A-Za-z0-9_.-]*$``), so only A-Z fold to a-z.
    ``str.casefold()`` (and ``lower()``, and NFKC) would also fold the long s (U+017F) to ``s`` and
    the Kelvin sign (U+212A) to ``k``, letting a name that can never be defined match one that is.
    A non-ASCII name is returned unchanged, so it matches nothing.
    """
    return name.lower() if name.isascii() else name
