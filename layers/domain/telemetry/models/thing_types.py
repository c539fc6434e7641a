"""Thing types (stable id ``tdefi_``) and their immutable versions (``tdef_``)."""

from __future__ import annotations

import math
from enum import StrEnum
from typing import Any

from pydantic import Field, field_validator, model_validator

from telemetry.models.base import ApiModel, OutModel, with_examples


class Operator(StrEnum):
    GT = ">"
    GE = ">="
    LT = "<"
    LE = "<="
    EQ = "=="
    NE = "!="


class ValueType(StrEnum):
    """Property value types. Property values travel as strings (``"75"``) or JSON scalars."""

    string = "string"
    double = "double"
    int = "int"
    bool = "bool"


class Constraint(ApiModel):
    operator: Operator
    value: str

    @field_validator("value", mode="before")
    @classmethod
    def _stringify(cls, value: Any) -> Any:
        if isinstance(value, bool):
            return "true" if value else "false"
        if isinstance(value, int | float):
            return str(value)
        return value


class PropertyDefinition(ApiModel):
    name: str = Field(pattern=r"^[A-Za-z][A-Za-z0-9_.\-]{0,127}$")
    description: str | None = Field(default=None, max_length=2048)
    unit: str | None = Field(default=None, max_length=64)
    valueType: ValueType = ValueType.string
    required: bool = Field(default=False, strict=True)
    constraints: list[Constraint] = Field(default_factory=list, max_length=20)

    @model_validator(mode="after")
    def _constraints_fit_type(self) -> PropertyDefinition:
        for i, constraint in enumerate(self.constraints):
            try:
                parse_property_value(self.valueType, constraint.value)
            except ValueError as exc:
                raise ValueError(f"constraints[{i}].value: {exc}") from None
            if self.valueType in (ValueType.string, ValueType.bool) and constraint.operator not in (
                Operator.EQ,
                Operator.NE,
            ):
                raise ValueError(f"constraints[{i}]: operator {constraint.operator} needs a numeric valueType")
        return self


class _ThingTypeBody(ApiModel):
    description: str | None = Field(default=None, max_length=2048)
    metricIds: list[str] = Field(min_length=1, max_length=500)
    propertyDefinitions: list[PropertyDefinition] = Field(default_factory=list, max_length=200)

    @model_validator(mode="after")
    def _unique(self) -> _ThingTypeBody:
        if len(set(self.metricIds)) != len(self.metricIds):
            raise ValueError("metricIds must not repeat")
        names = [p.name.casefold() for p in self.propertyDefinitions]
        if len(set(names)) != len(names):
            raise ValueError("propertyDefinitions names must be unique (case-insensitively)")
        return self


class ThingTypeCreate(_ThingTypeBody):
    displayName: str = Field(min_length=1, max_length=256)

    model_config = with_examples(
        {
            "displayName": "Battery",
            "description": "A rack battery",
            "metricIds": ["mdef_voltage"],
            "propertyDefinitions": [{"name": "capacityKwh", "valueType": "double", "unit": "kWh"}],
        }
    )


class ThingTypeVersionCreate(_ThingTypeBody):
    """A new version: metrics and properties are required; the names default to the type's."""

    displayName: str | None = Field(default=None, min_length=1, max_length=256)

    model_config = with_examples(
        {
            "metricIds": ["mdef_voltage", "mdef_current"],
            "propertyDefinitions": [{"name": "capacityKwh", "valueType": "double", "unit": "kWh", "required": True}],
        }
    )


class ThingTypeVersion(OutModel):
    id: str
    thingTypeId: str
    version: int
    displayName: str
    description: str | None = None
    metricIds: list[str]
    propertyDefinitions: list[PropertyDefinition]
    createdAt: str


class ThingType(OutModel):
    id: str
    displayName: str
    description: str | None = None
    latestVersionId: str
    latestVersion: int
    timeseriesStatus: str = "Ready"
    deleted: bool = False
    createdAt: str
    updatedAt: str


class ThingTypeCreated(OutModel):
    """The answer to a create: the stable id and the version id (spec, step 2)."""

    id: str
    thingTypeId: str
    versionId: str
    version: int
    thingType: ThingType
    definition: ThingTypeVersion


class ThingTypeDetail(ThingType):
    versions: list[ThingTypeVersion]


def parse_property_value(value_type: ValueType, raw: Any) -> Any:
    """Parse a property value (string or JSON scalar) to its type; ValueError says why not."""
    if raw is None or isinstance(raw, dict | list):
        raise ValueError(f"expected a {value_type.value} scalar")
    if value_type is ValueType.string:
        if not isinstance(raw, str):
            raise ValueError("expected a string")
        return raw
    if value_type is ValueType.bool:
        if isinstance(raw, bool):
            return raw
        if isinstance(raw, str) and raw.strip().lower() in ("true", "false"):
            return raw.strip().lower() == "true"
        raise ValueError("expected true or false")
    if isinstance(raw, bool):
        raise ValueError(f"expected a {value_type.value}, got a boolean")
    try:
        number = float(raw) if value_type is ValueType.double else _parse_int(raw)
    except (TypeError, ValueError):
        raise ValueError(f"expected a {value_type.value}, got {raw!r}") from None
    if isinstance(number, float) and not math.isfinite(number):
        raise ValueError("expected a finite number")
    return number


def _parse_int(raw: Any) -> int:
    if isinstance(raw, float):
        if not raw.is_integer():
            raise ValueError
        return int(raw)
    return int(str(raw).strip())


def check_constraint(value_type: ValueType, value: Any, constraint: Constraint) -> bool:
    bound = parse_property_value(value_type, constraint.value)
    match constraint.operator:
        case Operator.GT:
            return bool(value > bound)
        case Operator.GE:
            return bool(value >= bound)
        case Operator.LT:
            return bool(value < bound)
        case Operator.LE:
            return bool(value <= bound)
        case Operator.EQ:
            return bool(value == bound)
        case Operator.NE:
            return bool(value != bound)
    return False  # pragma: no cover - exhaustive
