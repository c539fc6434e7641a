"""The caller of a request. A plain dataclass: the HTTP layer builds one per request."""

from __future__ import annotations

from dataclasses import dataclass, field

#: the scope that grants every scope, including scopes added later
ALL_SCOPES = "*"


@dataclass(frozen=True, slots=True)
class Principal:
    """Who is calling: derived from the key, never from the request body."""

    org_id: str
    key_id: str
    scopes: frozenset[str]
    place_filter: frozenset[str] = field(default_factory=frozenset)
    thing_filter: frozenset[str] = field(default_factory=frozenset)
    #: epoch milliseconds after which the key is refused; None: never expires
    expires_at_ms: int | None = None

    def expired(self, at_ms: int) -> bool:
        return self.expires_at_ms is not None and at_ms >= self.expires_at_ms

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
