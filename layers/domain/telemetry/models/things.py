"""Things: devices registered in a place, bound to one thing type version for life."""

from __future__ import annotations

from typing import Annotated, Any, ClassVar

from pydantic import Field, RootModel

from telemetry.limits import MAX_BULK_THINGS
from telemetry.models.base import Answer, ApiModel, OutModel, with_examples
from telemetry.models.places import PlaceKind

Scalar = str | int | float | bool


class ThingCreate(ApiModel):
    thingName: str = Field(min_length=1, max_length=256)
    thingType: str | None = Field(default=None, max_length=256)
    thingTypeId: str | None = Field(default=None, pattern=r"^tdefi_[a-z0-9]+$")
    thingDescription: str | None = Field(default=None, max_length=2048)
    manufacturer: str | None = Field(default=None, max_length=256)
    model: str | None = Field(default=None, max_length=256)
    serialNumber: str | None = Field(default=None, max_length=256)
    latitude: float | None = Field(default=None, ge=-90, le=90, strict=True)
    longitude: float | None = Field(default=None, ge=-180, le=180, strict=True)
    properties: dict[str, Scalar] = Field(default_factory=dict, max_length=200)

    model_config = with_examples(
        {
            "thingName": "Battery A1",
            "thingType": "Battery",
            "thingDescription": "Rack 1, slot A1",
            "manufacturer": "Aerovy",
            "model": "AVY-100",
            "latitude": 37.7749,
            "longitude": -122.4194,
        }
    )


class ThingBulkCreate(RootModel[Annotated[list[dict[str, Any]], Field(min_length=1, max_length=MAX_BULK_THINGS)]]):
    """The bulk body: an array of 1..100 objects. Each object is validated as a
    thing body on its own, so one bad item is a per-item 400 in a 207, not a refusal."""

    model_config = with_examples(
        [
            {"thingName": "Battery A1", "thingType": "Battery", "serialNumber": "A1-0001"},
            {"thingName": "Battery A2", "thingType": "Battery", "serialNumber": "A1-0002"},
        ]
    )


class Thing(OutModel):
    id: str
    thingId: str
    thingName: str
    placeId: str
    placeKind: PlaceKind
    thingType: str | None = None
    thingTypeId: str | None = None
    thingTypeVersionId: str | None = None
    thingDescription: str | None = None
    manufacturer: str | None = None
    model: str | None = None
    serialNumber: str | None = None
    latitude: float | None = None
    longitude: float | None = None
    properties: dict[str, Any] = Field(default_factory=dict)
    createdAt: str


class BulkItemResult(OutModel):
    index: int
    status: int
    thingId: str | None = None
    thing: Thing | None = None
    type: str | None = None
    errors: list[dict[str, Any]] | None = None


class BulkResult(OutModel):
    created: int
    failed: int
    results: list[BulkItemResult]


# --------------------------------------------------------------------------- a thing's readings (queries)


class ThingFrame(Answer):
    """One stored reading of a thing: its time (epoch ms and ISO) and metric values by metric name."""

    timestamp: int
    time: str
    metrics: dict[str, Any]


class ThingLatest(Answer):
    """``GET /v2/things/{id}/latest-event``: the newest reading; ``timestamp``/``time`` are null
    (and ``metrics`` empty) while the thing has none."""

    thingId: str
    timestamp: int | None
    time: str | None
    metrics: dict[str, Any]

    keeps_nulls: ClassVar[bool] = True  # json_response keeps the documented nulls


class ThingHistory(Answer):
    """``GET /v2/things/{id}/history``: readings in ``[start, end)`` (epoch ms), one page."""

    thingId: str
    start: int
    end: int
    frames: list[ThingFrame]
    continuationToken: str | None = None


class AggregateBucket(Answer):
    timestamp: int
    time: str
    metrics: dict[str, Any]


class ThingAggregates(Answer):
    """``GET /v2/things/{id}/aggregates``: one bucket per interval that holds readings."""

    thingId: str
    start: int
    end: int
    interval: str
    intervalMs: int = Field(ge=1)
    aggregations: dict[str, str]
    buckets: list[AggregateBucket]
