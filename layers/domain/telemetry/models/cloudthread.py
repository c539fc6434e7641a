"""Cloudthread "stream ingest" dialect: data stream tokens and the series index (docs/cloudthread.md)."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, ClassVar, Literal

from pydantic import Field

from telemetry.models.base import Answer, ApiModel, OutModel, with_examples


class AggFunc(StrEnum):
    """``metric_agg_func``: how a metric's hourly values combine across series and into days."""

    Sum = "Sum"
    Average = "Average"
    Maximum = "Maximum"
    Minimum = "Minimum"


class DataStreamCreate(ApiModel):
    name: str = Field(min_length=1, max_length=256)
    description: str | None = Field(default=None, max_length=2048)

    model_config = with_examples({"name": "costs", "description": "Unit cost metrics"})


class DataStream(OutModel):
    """A data stream token's record: the token itself is never stored, only its SHA-256."""

    id: str
    name: str
    description: str | None = None
    prefix: str
    tokenHash: str
    orgId: str
    createdAt: str


class DataStreamView(OutModel):
    """What the platform API shows of a data stream (no hash)."""

    id: str
    name: str
    description: str | None = None
    prefix: str
    createdAt: str


class DataStreamCreated(DataStreamView):
    """The answer to a create: the only time the token is shown."""

    token: str


class StreamSeries(OutModel):
    """One entry of the series index: a (metric, aggregation, dimensions) combination ever ingested."""

    seriesId: str
    metricName: str
    aggFunc: AggFunc
    dimensions: dict[str, str] = Field(default_factory=dict)
    firstSeen: str


# --------------------------------------------------------------------------- answers


class StreamIngestAnswer(Answer):
    """``POST /api/streams/ingest`` (201)."""

    ingested: int = Field(ge=0)
    series: int = Field(ge=0)
    metric_agg_func: str


class StreamMetric(Answer):
    metricName: str
    metricAggFunc: str
    series: int = Field(ge=1)


class StreamMetrics(Answer):
    """``GET /v2/data-streams/metrics``: every metric name with its aggregation and series count."""

    items: list[StreamMetric]


#: the answer's times: the document's own form, ``2022-10-01 00:00:00`` (UTC)
_STREAM_TIME = Field(pattern="^[0-9]{4}-[0-9]{2}-[0-9]{2} [0-9]{2}:00:00$")
#: a range bound as asked (to the second)
_RANGE_TIME = Field(pattern="^[0-9]{4}-[0-9]{2}-[0-9]{2} [0-9]{2}:[0-9]{2}:[0-9]{2}$")


class StreamPoint(Answer):
    #: the hour (``hourly``) or the UTC day (``daily``, ``… 00:00:00``)
    timestamp: Annotated[str, _STREAM_TIME]
    #: the stored hourly values combined by the metric's aggregation function
    value: float
    #: how many stored hourly values were combined
    count: int = Field(ge=1)


class StreamGroup(Answer):
    #: the group's value of each ``groupBy`` dimension (null: series without it); ``{}`` without groupBy
    dimensions: dict[str, str | None]
    points: list[StreamPoint]


class StreamMetricAnswer(Answer):
    """``GET /v2/data-streams/metrics/{metricName}`` (docs/cloudthread.md): the metric combined per
    group and hour/day."""

    keeps_nulls: ClassVar[bool] = True  # null dimensions, and ``metric_agg_func`` when nothing matched

    metric_name: str
    #: the aggregation function read (null: no ``agg`` asked and the name has no series)
    metric_agg_func: AggFunc | None
    granularity: Literal["hourly", "daily"]
    #: the effective range, start inclusive, end exclusive
    start: Annotated[str, _RANGE_TIME]
    end: Annotated[str, _RANGE_TIME]
    groupBy: list[str]
    #: the ``filter[<dim>]`` parameters: dimension -> accepted values
    filter: dict[str, list[str]]
    seriesMatched: int = Field(ge=0)
    groups: list[StreamGroup]
