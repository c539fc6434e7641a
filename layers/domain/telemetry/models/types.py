"""Measure data types and aggregations: plain enums, no pydantic (the writer imports only these)."""

from __future__ import annotations

from enum import StrEnum

#: the range of an Int measure (Timestream BIGINT, a signed 64-bit integer)
INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1


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
