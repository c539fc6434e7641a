"""Organizations, API keys, scopes and resource filters (the caller itself is :class:`Principal`)."""

from __future__ import annotations

from dataclasses import dataclass

from pydantic import AwareDatetime, Field

from telemetry.models.base import ApiModel, OutModel, with_examples
from telemetry.models.principal import ALL_SCOPES, Principal

__all__ = [
    "ALL_SCOPES",
    "SCOPES",
    "ApiKeyCreate",
    "ApiKeyCreated",
    "ApiKeyOut",
    "ApiKeyRecord",
    "IssuedKey",
    "Organization",
    "Principal",
    "ResourceFilters",
]

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
    "api-keys:read",
    "api-keys:write",
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
    name: str | None = None
    #: ISO 8601 UTC; absent: the key does not expire
    expiresAt: str | None = None
    revokedAt: str | None = None


class ApiKeyCreate(ApiModel):
    """``POST /v2/api-keys``: the new key can never carry more than the calling key."""

    name: str = Field(min_length=1, max_length=200)
    #: the schema lists the known scopes; the refusal names the unknown ones (services.auth)
    scopes: list[str] = Field(
        min_length=1, max_length=50, json_schema_extra={"items": {"type": "string", "enum": [*SCOPES, ALL_SCOPES]}}
    )
    filters: ResourceFilters = Field(default_factory=ResourceFilters)
    #: when the key stops working (must be in the future); absent: never
    expiresAt: AwareDatetime | None = None

    model_config = with_examples({"name": "ingest-only", "scopes": ["data:write"], "filters": {"places": []}})


class ApiKeyOut(OutModel):
    """A key as listed: never the secret, never its hash."""

    id: str
    name: str | None = None
    prefix: str
    scopes: list[str]
    filters: ResourceFilters
    createdAt: str
    expiresAt: str | None = None
    revoked: bool
    revokedAt: str | None = None

    @classmethod
    def of(cls, record: ApiKeyRecord) -> ApiKeyOut:
        return cls.model_validate(record.model_dump(exclude={"keyHash", "orgId"}))


class ApiKeyCreated(ApiKeyOut):
    """The answer to a creation: the only time the secret ``key`` is ever shown."""

    key: str


@dataclass(frozen=True, slots=True)
class IssuedKey:
    """Returned once, at creation: the plaintext key is not recoverable afterwards."""

    key: str
    key_id: str
    org_id: str
    org_name: str
    scopes: tuple[str, ...]
