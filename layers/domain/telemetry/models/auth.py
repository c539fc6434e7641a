"""Organizations, API keys, scopes and resource filters (the caller itself is :class:`Principal`)."""

from __future__ import annotations

from dataclasses import dataclass

from pydantic import Field

from telemetry.models.base import ApiModel, OutModel
from telemetry.models.principal import ALL_SCOPES, Principal

__all__ = ["ALL_SCOPES", "SCOPES", "ApiKeyRecord", "IssuedKey", "Organization", "Principal", "ResourceFilters"]

#: Every scope a key can carry. ``*`` grants all of them, including scopes added later.
SCOPES: tuple[str, ...] = (
    "metrics:read",
    "metrics:write",
    "thing-types:read",
    "thing-types:write",
    "places:read",
    "places:write",
    "things:read",
    "things:write",
    "data:read",
    "data:write",
    "templates:read",
    "templates:write",
    "integrations:read",
    "integrations:write",
    "sensors:read",
    "sensors:write",
    "streams:read",
    "streams:write",
    "buckets:read",
    "buckets:write",
)


class ResourceFilters(ApiModel):
    """Limits a key to some places and/or things. Empty lists mean no limit of that kind."""

    places: list[str] = Field(default_factory=list, max_length=500)
    things: list[str] = Field(default_factory=list, max_length=500)

    @property
    def active(self) -> bool:
        return bool(self.places or self.things)


class Organization(OutModel):
    id: str
    name: str
    createdAt: str


class ApiKeyRecord(OutModel):
    """What is stored of a key: never the key itself, only its SHA-256."""

    id: str
    orgId: str
    keyHash: str
    prefix: str
    scopes: list[str]
    filters: ResourceFilters = Field(default_factory=ResourceFilters)
    createdAt: str
    revoked: bool = False


@dataclass(frozen=True, slots=True)
class IssuedKey:
    """Returned once, at creation: the plaintext key is not recoverable afterwards."""

    key: str
    key_id: str
    org_id: str
    org_name: str
    scopes: tuple[str, ...]
