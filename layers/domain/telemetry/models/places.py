"""Places: sites and fleets. Things live in a place."""

from __future__ import annotations

from enum import StrEnum

from pydantic import Field

from telemetry.models.base import ApiModel, OutModel, with_examples


class PlaceKind(StrEnum):
    site = "site"
    fleet = "fleet"

    @property
    def id_prefix(self) -> str:
        return "site" if self is PlaceKind.site else "fleet"


class PlaceCreate(ApiModel):
    name: str = Field(min_length=1, max_length=256)
    description: str | None = Field(default=None, max_length=2048)
    address: str | None = Field(default=None, max_length=512)
    timezone: str | None = Field(default=None, max_length=64)
    latitude: float | None = Field(default=None, ge=-90, le=90, strict=True)
    longitude: float | None = Field(default=None, ge=-180, le=180, strict=True)
    tags: dict[str, str] = Field(default_factory=dict, max_length=50)

    model_config = with_examples({"name": "Plant 7", "description": "Battery storage site"})


class Place(OutModel):
    id: str
    kind: PlaceKind
    name: str
    description: str | None = None
    address: str | None = None
    timezone: str | None = None
    latitude: float | None = None
    longitude: float | None = None
    tags: dict[str, str] = Field(default_factory=dict)
    createdAt: str
