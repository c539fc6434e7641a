"""Authenticating an API key: ``X-Api-Key`` -> :class:`Principal`, without pydantic.

The authorizer function imports only this (and the item store): hashing the key, one GetItem,
and a plain :class:`Principal` (docs/performance.md, "Cold start"). :mod:`telemetry.services.auth`
(issuing and managing keys, with the pydantic API models) authenticates through the same code.
"""

from __future__ import annotations

import hashlib

from telemetry.clock import ms_from_iso, now_ms
from telemetry.errors import Forbidden, Unauthenticated
from telemetry.models.principal import Principal
from telemetry.ports.definitions import ItemStore
from telemetry.repositories.api_keys import grant_by_hash

KEY_PREFIX = "avy_"


def hash_secret(secret: str) -> str:
    """SHA-256 hex. Keys carry 256 bits of randomness, so an unsalted fast hash is sufficient:
    the stored hash cannot be reversed or brute-forced, and lookup by hash stays one GetItem."""
    return hashlib.sha256(secret.encode()).hexdigest()


def require(principal: Principal, scope: str) -> None:
    if not principal.has_scope(scope):
        raise Forbidden(f"this API key lacks the '{scope}' scope")


def require_unexpired(principal: Principal, at_ms: int | None = None) -> None:
    """The authorizer's result is cached, so the expiry is checked again on every request."""
    if principal.expired(now_ms() if at_ms is None else at_ms):
        raise Unauthenticated("this API key has expired")


class Authenticator:
    def __init__(self, store: ItemStore) -> None:
        self.store = store

    def authenticate(self, key: str | None) -> Principal:
        if not key:
            raise Unauthenticated("send an API key in the X-Api-Key header")
        if not key.startswith(KEY_PREFIX) or len(key) > 256:
            raise Unauthenticated("invalid API key")
        grant = grant_by_hash(self.store, hash_secret(key))
        if grant is None or grant.revoked:
            raise Unauthenticated("invalid API key")
        who = Principal(
            org_id=grant.org_id,
            key_id=grant.key_id,
            scopes=frozenset(grant.scopes),
            place_filter=frozenset(grant.places),
            thing_filter=frozenset(grant.things),
            expires_at_ms=ms_from_iso(grant.expires_at) if grant.expires_at else None,
        )
        require_unexpired(who)
        return who
