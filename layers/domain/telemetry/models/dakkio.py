"""Dakkio "bucket data points" dialect: buckets, data sources and their value schemas (docs/dakkio.md)."""

from __future__ import annotations

from enum import StrEnum

from pydantic import ConfigDict, Field, field_validator

from telemetry.models.base import ApiModel, OutModel, with_examples
from telemetry.models.metrics import NAME_PATTERN, DataType

MAX_SCHEMA_KEYS = 100


class ValueType(StrEnum):
    number = "number"
    integer = "integer"
    boolean = "boolean"
    string = "string"

    @property
    def data_type(self) -> DataType:
        return _DATA_TYPES[self]


_DATA_TYPES = {
    ValueType.number: DataType.Double,
    ValueType.integer: DataType.Int,
    ValueType.boolean: DataType.Bool,
    ValueType.string: DataType.String,
}


class ValueSpec(ApiModel):
    type: ValueType
    required: bool = Field(default=False, strict=True)
    unit: str | None = Field(default=None, max_length=64)
    description: str | None = Field(default=None, max_length=1024)


class BucketCreate(ApiModel):
    name: str = Field(min_length=1, max_length=256)
    description: str | None = Field(default=None, max_length=2048)

    model_config = with_examples({"name": "Home sensors", "description": "Everything in the house"})


class Bucket(OutModel):
    id: str
    name: str
    description: str | None = None
    #: the platform fleet that holds one thing per data source of the bucket
    fleetId: str
    createdAt: str


class DataSourceCreate(ApiModel):
    name: str = Field(min_length=1, max_length=256)
    description: str | None = Field(default=None, max_length=2048)
    #: value key -> its type and whether it is required
    schema_: dict[str, ValueSpec] = Field(
        alias="schema",
        min_length=1,
        max_length=MAX_SCHEMA_KEYS,
        json_schema_extra={"propertyNames": {"pattern": NAME_PATTERN, "maxLength": 100}},
    )

    @field_validator("schema_")
    @classmethod
    def _keys(cls, schema: dict[str, ValueSpec]) -> dict[str, ValueSpec]:
        import re

        bad = [k for k in schema if not re.fullmatch(NAME_PATTERN, k) or len(k) > 100]
        if bad:
            raise ValueError(
                f"value keys must start with a letter and hold only letters, digits, _ . - (at most 100): {bad}"
            )
        folded = [k.casefold() for k in schema]
        if len(set(folded)) != len(folded):
            raise ValueError("value keys must be unique case-insensitively")
        return schema

    model_config = with_examples(
        {
            "name": "Living room",
            "schema": {
                "temperature": {"type": "number", "unit": "C", "required": True},
                "humidity": {"type": "number", "unit": "%"},
            },
        }
    )


class DataSource(OutModel):
    model_config = ConfigDict(extra="ignore", populate_by_name=True, serialize_by_alias=True)

    id: str
    bucketId: str
    name: str
    description: str | None = None
    schema_: dict[str, ValueSpec] = Field(alias="schema")
    #: the platform thing that stores this data source's points (in the bucket's fleet)
    thingId: str
    thingTypeId: str
    #: value key -> platform metric id (the measure name of the records)
    metricIds: dict[str, str]
    #: platform metric id of the Json measure holding each point's _id, createdAt and metadata
    pointMetricId: str
    createdAt: str
