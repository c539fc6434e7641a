"""The API-key lookup item (``APIKEY#<sha256>`` / ``APIKEY``), read without pydantic.

Authenticating a request is the authorizer's whole job and runs on every cache miss of API
Gateway's authorizer cache, so its cold start matters (issue 10: <= 120 ms). The pydantic
``ApiKeyRecord`` (and with it every model of :mod:`telemetry.repositories.definitions`) costs
more to import than the rest of the lookup; this module reads the few fields authentication
needs from the stored document as plain values. The item's layout is defined here once, and
:class:`telemetry.repositories.definitions.DefinitionsRepository` writes it with the same keys.
"""

from __future__ import annotations

from dataclasses import dataclass

from telemetry.ports.definitions import ItemStore

KEY_HASH_SK = "APIKEY"


def key_hash_pk(key_hash: str) -> str:
    return f"APIKEY#{key_hash}"


@dataclass(frozen=True, slots=True)
class KeyGrant:
    """What a stored key grants: the fields of ``ApiKeyRecord`` that authenticating reads."""

    key_id: str
    org_id: str
    scopes: tuple[str, ...]
    places: tuple[str, ...]
    things: tuple[str, ...]
    revoked: bool
    #: ISO 8601 UTC; None: the key does not expire
    expires_at: str | None


def grant_by_hash(store: ItemStore, key_hash: str) -> KeyGrant | None:
    """The key stored under ``key_hash``, or None. A document missing a required field raises
    (KeyError, TypeError), as the pydantic record's validation did: a corrupt item is a 500."""
    found = store.get(key_hash_pk(key_hash), KEY_HASH_SK)
    if found is None:
        return None
    doc = found.doc
    filters = doc.get("filters") or {}
    expires = doc.get("expiresAt")
    return KeyGrant(
        key_id=_text(doc["id"]),
        org_id=_text(doc["orgId"]),
        scopes=tuple(_text(s) for s in _list(doc["scopes"])),
        places=tuple(_text(p) for p in _list(filters.get("places", []))),
        things=tuple(_text(t) for t in _list(filters.get("things", []))),
        revoked=_flag(doc.get("revoked", False)),
        expires_at=None if expires is None else _text(expires),
    )


def _text(value: object) -> str:
    if not isinstance(value, str):
        raise TypeError(f"a stored API key field is not a string: {type(value).__name__}")
    return value


def _list(value: object) -> list[object]:
    if not isinstance(value, list):
        raise TypeError(f"a stored API key field is not a list: {type(value).__name__}")
    return value


def _flag(value: object) -> bool:
    if not isinstance(value, bool):
        raise TypeError(f"a stored API key flag is not a boolean: {type(value).__name__}")
    return value
