"""Sites and fleets."""

from __future__ import annotations

from telemetry.clock import iso_from_ms, now_ms
from telemetry.errors import Forbidden, NotFound
from telemetry.ids import new_id
from telemetry.models.auth import Principal
from telemetry.models.base import Page
from telemetry.models.places import Place, PlaceCreate, PlaceKind
from telemetry.repositories.definitions import DefinitionsRepository
from telemetry.services.auth import require


class PlaceService:
    def __init__(self, repo: DefinitionsRepository) -> None:
        self.repo = repo

    def create(self, principal: Principal, kind: PlaceKind, body: PlaceCreate) -> Place:
        require(principal, "places:write")
        if principal.filtered:
            # A key limited to some places must not widen its own reach.

            raise Forbidden("a key with resource filters cannot create places")
        place = Place(id=new_id(kind.id_prefix), kind=kind, createdAt=iso_from_ms(now_ms()), **body.model_dump())
        self.repo.create_place(principal.org_id, place)
        return place

    def visible(self, principal: Principal, kind: PlaceKind, place_id: str) -> Place:
        """The place, if it exists in the key's organization, is of this kind and passes its filter."""
        place = self.repo.get_place(principal.org_id, place_id)
        if place is None or place.kind is not kind or not principal.can_see_place(place_id):
            raise NotFound(f"{kind.value} {place_id} not found")
        return place

    def get(self, principal: Principal, kind: PlaceKind, place_id: str) -> Place:
        require(principal, "places:read")
        return self.visible(principal, kind, place_id)

    def list(self, principal: Principal, kind: PlaceKind, limit: int, cursor: str | None) -> Page[Place]:
        require(principal, "places:read")
        items, next_cursor = self.repo.list_places(principal.org_id, kind, limit, cursor)
        return Page[Place](items=[p for p in items if principal.can_see_place(p.id)], continuationToken=next_cursor)
