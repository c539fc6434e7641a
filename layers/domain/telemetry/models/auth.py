"""Organizations, API keys, scopes and resource filters; the :class:`Principal` of a request."""

from __future__ import annotations

from dataclasses import dataclass, field

from pydantic import Field

from telemetry.models.base import ApiModel, OutModel

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
ALL_SCOPES = "*"


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


@dataclass(frozen=True, slots=True)
class Principal:
    """Who is calling: derived from the key, never from the request body."""

    org_id: str
    key_id: str
    scopes: frozenset[str]
    place_filter: frozenset[str] = field(default_factory=frozenset)
    thing_filter: frozenset[str] = field(default_factory=frozenset)

    def has_scope(self, scope: str) -> bool:
        return ALL_SCOPES in self.scopes or scope in self.scopes

    @property
    def filtered(self) -> bool:
        return bool(self.place_filter or self.thing_filter)

    def can_see_place(self, place_id: str) -> bool:
        return not self.filtered or place_id in self.place_filter

    def can_see_thing(self, thing_id: str, place_id: str) -> bool:
        if not self.filtered:
            return True
        return thing_id in self.thing_filter or place_id in self.place_filter
