"""Cloudthread "stream ingest" dialect: data stream tokens and the series index (docs/cloudthread.md)."""

from __future__ import annotations

from enum import StrEnum

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
