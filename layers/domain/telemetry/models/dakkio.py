"""Dakkio "bucket data points" dialect: buckets, data sources and their value schemas (docs/dakkio.md)."""

from __future__ import annotations

import re
from enum import StrEnum
from typing import Annotated, Any, ClassVar, Literal

from pydantic import ConfigDict, Field, field_validator

from telemetry.models.base import Answer, ApiModel, OutModel, with_examples
from telemetry.models.metrics import NAME_PATTERN, DataType

MAX_SCHEMA_KEYS = 100
#: points per ``POST /api/data/batch``
MAX_BATCH_POINTS = 1000
#: ``GET /api/data``'s largest ``limit``
MAX_QUERY_LIMIT = 1000


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


# --------------------------------------------------------------------------- answers (docs/dakkio.md)
# Exactly the bodies of the document (shared/spec/dakkio-ingest-data.md: POST /api/data's 201) and
# of docs/dakkio.md (the batch and the query, which the document names but does not show);
# tests/contract/test_answer_examples.py validates their examples against these models.

#: ids as this dialect answers them: ObjectIds, lower case (requests may use either case)
POINT_ID = re.compile("[0-9a-f]{24}")
#: times as this dialect answers them: UTC, milliseconds only when not zero (telemetry.clock.iso_from_ms)
ANSWER_TIME = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]{3})?Z")
_ID = Field(pattern=f"^{POINT_ID.pattern}$")
_TIME = Field(pattern=f"^{ANSWER_TIME.pattern}$")

#: a point's value as sent: the data source's schema types (booleans are never numbers)
PointValue = bool | int | float | str


class DataPoint(Answer):
    """One point as the ingest endpoints echo it and the query returns it."""

    model_config = ConfigDict(serialize_by_alias=True)

    id: Annotated[str, _ID] = Field(alias="_id")
    bucketId: Annotated[str, _ID]
    dataSourceId: Annotated[str, _ID]
    timestamp: Annotated[str, _TIME]
    #: value key -> value, of the data source's schema (the point's own keys only)
    values: dict[str, PointValue]
    #: the request's metadata object as sent (``{}`` when it had none)
    metadata: dict[str, Any]
    createdAt: Annotated[str, _TIME]


class DataPointAnswer(Answer):
    """``POST /api/data`` (201)."""

    message: Literal["Data point ingested successfully"]
    dataPoint: DataPoint


class DataBatchAnswer(Answer):
    """``POST /api/data/batch`` (201): every point, in the request's order, all or nothing."""

    message: Literal["Data points ingested successfully"]
    count: int = Field(ge=1, le=MAX_BATCH_POINTS)
    dataPoints: list[DataPoint] = Field(min_length=1, max_length=MAX_BATCH_POINTS)


class DataQueryEcho(Answer):
    """The effective parameters of a query (``dataSourceId`` null: every data source of the bucket)."""

    bucketId: Annotated[str, _ID]
    dataSourceId: Annotated[str, _ID] | None
    startTime: Annotated[str, _TIME]
    endTime: Annotated[str, _TIME]
    limit: int = Field(ge=1, le=MAX_QUERY_LIMIT)
    order: Literal["asc", "desc"]


class DataQueryAnswer(Answer):
    """``GET /api/data`` (200)."""

    keeps_nulls: ClassVar[bool] = True  # the echo's ``dataSourceId`` is null for every data source

    dataPoints: list[DataPoint] = Field(max_length=MAX_QUERY_LIMIT)
    count: int = Field(ge=0, le=MAX_QUERY_LIMIT)
    hasMore: bool
    query: DataQueryEcho
