"""API keys: issue (shown once, stored as a hash), authenticate, and the scope check."""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Sequence

from telemetry.adapters.definitions import DefinitionsRepository
from telemetry.clock import iso_from_ms, now_ms
from telemetry.errors import Conflict, Forbidden, NotFound, Unauthenticated, ValidationFailed
from telemetry.ids import new_id
from telemetry.models.auth import (
    ALL_SCOPES,
    SCOPES,
    ApiKeyRecord,
    IssuedKey,
    Organization,
    Principal,
    ResourceFilters,
)

KEY_PREFIX = "avy_"


def hash_secret(secret: str) -> str:
    """SHA-256 hex. Keys carry 256 bits of randomness, so an unsalted fast hash is sufficient:
    the stored hash cannot be reversed or brute-forced, and lookup by hash stays one GetItem."""
    return hashlib.sha256(secret.encode()).hexdigest()


def require(principal: Principal, scope: str) -> None:
    if not principal.has_scope(scope):
        raise Forbidden(f"this API key lacks the '{scope}' scope")


def reachable_places(principal: Principal, repo: DefinitionsRepository) -> frozenset[str] | None:
    """The places a filtered key reaches: those it names, and those of the things it names (it may
    see the place's listing, narrowed to its things). ``None`` for a key without filters."""
    if not principal.filtered:
        return None
    if not principal.thing_filter:
        return principal.place_filter
    things = repo.get_things(principal.org_id, sorted(principal.thing_filter))
    return principal.place_filter | {t.placeId for t in things.values()}


def require_unfiltered(principal: Principal, what: str) -> None:
    """Org-wide data (belonging to no place or thing) is out of every filtered key's reach: 404,
    as for anything else outside the filter, so a filtered key cannot even learn that it exists."""
    if principal.filtered:
        raise NotFound(f"{what} not found")


class KeyService:
    def __init__(self, repo: DefinitionsRepository) -> None:
        self.repo = repo

    def ensure_org(self, name: str) -> Organization:
        existing = self.repo.org_by_name(name)
        if existing:
            return existing
        org = Organization(id=new_id("org", 16), name=name, createdAt=iso_from_ms(now_ms()))
        try:
            self.repo.create_org(org)
        except Conflict:  # created concurrently: use the winner
            winner = self.repo.org_by_name(name)
            if winner is None:
                raise
            return winner
        return org

    def issue(
        self, org_name: str, scopes: Sequence[str] | None = None, filters: ResourceFilters | None = None
    ) -> IssuedKey:
        """Create the organization if needed and a new key for it. Default scopes: all (``*``)."""
        wanted = tuple(dict.fromkeys(scopes)) if scopes else (ALL_SCOPES,)
        unknown = [s for s in wanted if s != ALL_SCOPES and s not in SCOPES]
        if unknown:
            raise ValidationFailed.single(["scopes"], f"unknown scope(s): {', '.join(unknown)}")
        if not org_name.strip():
            raise ValidationFailed.single(["org"], "is required")
        org = self.ensure_org(org_name.strip())
        key = KEY_PREFIX + secrets.token_urlsafe(32)
        record = ApiKeyRecord(
            id=new_id("key", 16),
            orgId=org.id,
            keyHash=hash_secret(key),
            prefix=key[:10],
            scopes=list(wanted),
            filters=filters or ResourceFilters(),
            createdAt=iso_from_ms(now_ms()),
        )
        self.repo.put_key(record)
        return IssuedKey(key=key, key_id=record.id, org_id=org.id, org_name=org.name, scopes=wanted)

    def authenticate(self, key: str | None) -> Principal:
        if not key:
            raise Unauthenticated("send an API key in the X-Api-Key header")
        if not key.startswith(KEY_PREFIX) or len(key) > 256:
            raise Unauthenticated("invalid API key")
        record = self.repo.key_by_hash(hash_secret(key))
        if record is None or record.revoked:
            raise Unauthenticated("invalid API key")
        return Principal(
            org_id=record.orgId,
            key_id=record.id,
            scopes=frozenset(record.scopes),
            place_filter=frozenset(record.filters.places),
            thing_filter=frozenset(record.filters.things),
        )
