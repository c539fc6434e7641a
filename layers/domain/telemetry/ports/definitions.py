"""The ItemStore port: the small key-value surface the definitions repository needs.

Definitions (organizations, keys, metrics, thing types, places, things, templates, sensors ...)
are stored as JSON documents under a partition key that starts with the organization
(``ORG#<orgId>``), so no query can cross tenants by accident. The one exception is the lookup of
a credential by its hash (``APIKEY#<sha256>``), which is how the organization is found at all.

Keeping the port this small means the repository logic (item layouts, uniqueness rules) is
written once, in :mod:`telemetry.repositories.definitions`, and unit tests run it on an in-memory
ItemStore instead of a mock.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import Enum
from typing import Any, Protocol


class Expect(Enum):
    """Condition of a write."""

    ANY = "any"  #: unconditional put
    NEW = "new"  #: the key must not exist (uniqueness); else Conflict
    EXISTS = "exists"  #: the key must exist; else NotFound
    VERSION = "version"  #: the stored ``ver`` must equal ``Item.expected_ver`` (or the item be absent if 0)
    #: a lease (e.g. a rate-limit slot): absent, or its stored ``lease_until`` <= ``Item.lease_now``;
    #: else Conflict. Atomic, so of two concurrent takers exactly one wins.
    LEASE = "lease"


@dataclass(slots=True)
class Item:
    pk: str
    sk: str
    doc: dict[str, Any]
    gsi1pk: str | None = None
    gsi1sk: str | None = None
    expires_at: int | None = None  #: epoch seconds, for TTL
    expect: Expect = Expect.ANY
    expected_ver: int = 0
    #: with Expect.LEASE: the lease's end (stored) and the caller's now (compared), any unit
    lease_until: int = 0
    lease_now: int = 0
    #: a human name for the Conflict message ("metric name 'soc'")
    label: str = ""


@dataclass(frozen=True, slots=True)
class Stored:
    pk: str
    sk: str
    doc: dict[str, Any]
    ver: int


class ItemStore(Protocol):
    def get(self, pk: str, sk: str) -> Stored | None: ...

    def batch_get(self, keys: Sequence[tuple[str, str]]) -> list[Stored]: ...

    def write(self, items: Sequence[Item]) -> None:
        """Write all items atomically (one transaction when more than one). Every write bumps
        ``ver``. Raises Conflict (``Expect.NEW``/``VERSION``) or NotFound (``Expect.EXISTS``)
        naming the first failing item's ``label``; Unavailable when the store fails."""
        ...

    def delete(self, pk: str, sk: str) -> None: ...

    def query(
        self,
        pk: str,
        sk_prefix: str = "",
        *,
        limit: int = 100,
        cursor: str | None = None,
        index: str | None = None,
        descending: bool = False,
    ) -> tuple[list[Stored], str | None]:
        """Items of one partition whose sort key starts with ``sk_prefix``; an opaque cursor for
        the next page. ``index="gsi1"`` queries by gsi1pk/gsi1sk. The cursor carries only sort
        keys: the partition is always the caller's, so a forged cursor cannot cross tenants."""
        ...
