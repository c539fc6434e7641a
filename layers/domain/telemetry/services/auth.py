"""API keys: issue (shown once, stored as a hash), authenticate, manage (create / list / get /
revoke through ``/v2/api-keys``), and the scope check.

No privilege escalation: a key creates (or revokes) only keys whose scopes, resource filters and
expiry are within its own."""

from __future__ import annotations

import secrets
from collections.abc import Sequence

from telemetry.clock import iso_from_ms, ms_from_iso, now_ms
from telemetry.errors import Conflict, Forbidden, NotFound, ValidationFailed
from telemetry.ids import new_id
from telemetry.models.auth import (
    ALL_SCOPES,
    SCOPES,
    ApiKeyCreate,
    ApiKeyCreated,
    ApiKeyOut,
    ApiKeyRecord,
    IssuedKey,
    Organization,
    Principal,
    ResourceFilters,
)
from telemetry.models.base import Page
from telemetry.repositories.definitions import DefinitionsRepository
from telemetry.services.authn import KEY_PREFIX, Authenticator, hash_secret, require, require_unexpired

__all__ = ["KEY_PREFIX", "KeyService", "hash_secret", "require", "require_unexpired"]
#: 9999-12-31T23:59:59.999Z, the last instant an ISO 8601 timestamp can name
_LAST_MS = 253_402_300_799_999


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


def _expiry_ms(record: ApiKeyRecord) -> int | None:
    return ms_from_iso(record.expiresAt) if record.expiresAt else None


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
        self,
        org_name: str,
        scopes: Sequence[str] | None = None,
        filters: ResourceFilters | None = None,
        name: str | None = None,
        expires_at_ms: int | None = None,
    ) -> IssuedKey:
        """Create the organization if needed and a new key for it. Default scopes: all (``*``)."""
        wanted = _checked_scopes(scopes)
        if not org_name.strip():
            raise ValidationFailed.single(["org"], "is required")
        org = self.ensure_org(org_name.strip())
        key, record = self._new_key(org.id, wanted, filters or ResourceFilters(), name, expires_at_ms)
        return IssuedKey(key=key, key_id=record.id, org_id=org.id, org_name=org.name, scopes=wanted)

    def _new_key(
        self,
        org_id: str,
        scopes: tuple[str, ...],
        filters: ResourceFilters,
        name: str | None,
        expires_at_ms: int | None,
    ) -> tuple[str, ApiKeyRecord]:
        key = KEY_PREFIX + secrets.token_urlsafe(32)
        record = ApiKeyRecord(
            id=new_id("key", 16),
            orgId=org_id,
            keyHash=hash_secret(key),
            prefix=key[:10],
            scopes=list(scopes),
            filters=filters,
            createdAt=iso_from_ms(now_ms()),
            name=name,
            expiresAt=iso_from_ms(expires_at_ms) if expires_at_ms is not None else None,
        )
        self.repo.put_key(record)
        return key, record

    # ------------------------------------------------------------ /v2/api-keys
    def create(self, principal: Principal, body: ApiKeyCreate) -> ApiKeyCreated:
        require(principal, "api-keys:write")
        scopes = _checked_scopes(body.scopes)
        expires = None
        if body.expiresAt is not None:
            expires = ms_from_iso(body.expiresAt.isoformat())
            if expires <= now_ms():
                raise ValidationFailed.single(["expiresAt"], "must be in the future")
            if expires > _LAST_MS:
                raise ValidationFailed.single(["expiresAt"], "must be before the year 10000 (UTC)")
        self._within(principal, scopes, body.filters, expires, "create")
        key, record = self._new_key(principal.org_id, scopes, body.filters, body.name, expires)
        return ApiKeyCreated(key=key, **ApiKeyOut.of(record).model_dump())

    def list(self, principal: Principal, limit: int, cursor: str | None) -> Page[ApiKeyOut]:
        require(principal, "api-keys:read")
        records, next_cursor = self.repo.list_keys(principal.org_id, limit, cursor)
        visible = [ApiKeyOut.of(r) for r in records if self._visible(principal, r)]
        return Page[ApiKeyOut](items=visible, continuationToken=next_cursor)

    def get(self, principal: Principal, key_id: str) -> ApiKeyOut:
        require(principal, "api-keys:read")
        record = self._record(principal, key_id)
        if not self._visible(principal, record):
            raise NotFound(f"API key {key_id} not found")
        return ApiKeyOut.of(record)

    def _visible(self, principal: Principal, record: ApiKeyRecord) -> bool:
        """A key limited by resource filters sees only itself and keys inside its filters (their
        filters name places and things it must not learn of otherwise)."""
        if not principal.filtered or record.id == principal.key_id:
            return True
        return record.filters.active and not self._outside(principal, record.filters)

    def revoke(self, principal: Principal, key_id: str) -> None:
        """Idempotent. Effective on the next authorizer evaluation (cache TTL: docs/architecture.md)."""
        require(principal, "api-keys:write")
        record = self._record(principal, key_id)
        if not self._visible(principal, record):  # as for GET: a filtered key cannot learn it exists
            raise NotFound(f"API key {key_id} not found")
        if record.id != principal.key_id:  # a key may always revoke itself
            self._within(principal, tuple(record.scopes), record.filters, _expiry_ms(record), "revoke")
        if record.revoked:
            return
        self.repo.update_key(record.model_copy(update={"revoked": True, "revokedAt": iso_from_ms(now_ms())}))

    def _record(self, principal: Principal, key_id: str) -> ApiKeyRecord:
        record = self.repo.get_key(principal.org_id, key_id) if len(key_id) <= 64 else None
        if record is None:
            raise NotFound(f"API key {key_id} not found")
        return record

    def _within(
        self,
        principal: Principal,
        scopes: Sequence[str],
        filters: ResourceFilters,
        expires_at_ms: int | None,
        verb: str,
    ) -> None:
        """Refuse (403) a key that would carry more than the caller: scopes, filters, lifetime."""
        if ALL_SCOPES not in principal.scopes:
            extra = [s for s in scopes if s == ALL_SCOPES or s not in principal.scopes]
            if extra:
                raise Forbidden(f"cannot {verb} a key with scopes this key lacks: {', '.join(extra)}")
        if principal.filtered:
            if not filters.active:
                raise Forbidden(f"this key is limited by resource filters: cannot {verb} an unlimited key")
            outside = self._outside(principal, filters)
            if outside:
                raise Forbidden(f"cannot {verb} a key for resources outside this key's filters: {', '.join(outside)}")
        if principal.expires_at_ms is not None and (expires_at_ms is None or expires_at_ms > principal.expires_at_ms):
            raise Forbidden(f"cannot {verb} a key that outlives this key (expiresAt must be set and not later)")

    def _outside(self, principal: Principal, filters: ResourceFilters) -> tuple[str, ...]:
        places = [p for p in filters.places if p not in principal.place_filter]
        return (*places, *(t for t in filters.things if not self._thing_visible(principal, t)))

    def _thing_visible(self, principal: Principal, thing_id: str) -> bool:
        if thing_id in principal.thing_filter:
            return True
        thing = self.repo.get_thing(principal.org_id, thing_id) if principal.place_filter else None
        return thing is not None and thing.placeId in principal.place_filter

    def authenticate(self, key: str | None) -> Principal:
        return Authenticator(self.repo.store).authenticate(key)


def _checked_scopes(scopes: Sequence[str] | None) -> tuple[str, ...]:
    wanted = tuple(dict.fromkeys(scopes)) if scopes else (ALL_SCOPES,)
    unknown = [s for s in wanted if s != ALL_SCOPES and s not in SCOPES]
    if unknown:
        raise ValidationFailed.single(["scopes"], f"unknown scope(s): {', '.join(unknown)}")
    return wanted
