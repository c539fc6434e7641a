"""Measure data types and aggregations: plain enums, no pydantic (the writer imports only these)."""

from __future__ import annotations

from enum import StrEnum


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
