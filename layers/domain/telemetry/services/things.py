"""Things: register (single and bulk) in a place, get, list a place's things.

A thing is bound for life to the thing type version that was latest when it was created.
Properties are validated against that version's property definitions.
"""

from __future__ import annotations

from typing import Any

from telemetry.clock import iso_from_ms, now_ms
from telemetry.errors import DomainError, FieldError, NotFound, ValidationFailed, status_of
from telemetry.ids import new_id
from telemetry.limits import MAX_BULK_THINGS
from telemetry.models.auth import Principal
from telemetry.models.base import Page
from telemetry.models.places import Place, PlaceKind
from telemetry.models.thing_types import ThingTypeVersion, check_constraint, parse_property_value
from telemetry.models.things import BulkItemResult, BulkResult, Thing, ThingCreate
from telemetry.models.types import name_key
from telemetry.repositories.definitions import DefinitionsRepository
from telemetry.services.auth import reachable_places, require
from telemetry.services.places import PlaceService
from telemetry.validation import parse


class ThingService:
    def __init__(self, repo: DefinitionsRepository) -> None:
        self.repo = repo
        self.places = PlaceService(repo)

    # ------------------------------------------------------------ create
    def create(self, principal: Principal, kind: PlaceKind, place_id: str, body: ThingCreate) -> Thing:
        require(principal, "things:write")
        place = self.places.visible(principal, kind, place_id)
        thing = self._build(principal.org_id, place, body, {})
        self.repo.create_things(principal.org_id, [thing])
        return thing

    def create_bulk(
        self, principal: Principal, kind: PlaceKind, place_id: str, items: list[dict[str, Any]]
    ) -> BulkResult:
        """Each item is validated on its own; the valid ones are written in one transaction."""
        require(principal, "things:write")
        place = self.places.visible(principal, kind, place_id)
        if not isinstance(items, list):
            raise ValidationFailed.single([], "the body must be a JSON array of things")
        if not items:
            raise ValidationFailed.single([], "the array must contain at least one thing")
        if len(items) > MAX_BULK_THINGS:
            raise ValidationFailed.single([], f"at most {MAX_BULK_THINGS} things per bulk request")
        results: list[BulkItemResult] = []
        created: list[Thing] = []
        type_cache: dict[str, ThingTypeVersion] = {}
        for index, raw in enumerate(items):
            try:
                body = parse(ThingCreate, raw)
                thing = self._build(principal.org_id, place, body, type_cache)
            except DomainError as err:
                errors = [e.as_dict() for e in getattr(err, "errors", [])] or [{"path": "", "message": err.detail}]
                results.append(BulkItemResult(index=index, status=status_of(err), type=err.reason, errors=errors))
                continue
            created.append(thing)
            results.append(BulkItemResult(index=index, status=201, thingId=thing.id, thing=thing))
        if created:
            self.repo.create_things(principal.org_id, created)
        return BulkResult(created=len(created), failed=len(items) - len(created), results=results)

    def _build(self, org_id: str, place: Place, body: ThingCreate, cache: dict[str, ThingTypeVersion]) -> Thing:
        version: ThingTypeVersion | None = None
        if body.thingTypeId:
            version = cache.get(body.thingTypeId)
            if version is None:
                found = self.repo.get_thing_type(org_id, body.thingTypeId)
                if found is None or found[0].deleted:
                    raise ValidationFailed.single(["thingTypeId"], f"thing type {body.thingTypeId} does not exist")
                version = self.repo.get_thing_type_version(org_id, found[0].latestVersionId)
                if version is None:  # pragma: no cover - written in the same transaction as the type
                    raise ValidationFailed.single(["thingTypeId"], "the thing type has no version")
                cache[body.thingTypeId] = version
        properties = _validate_properties(version, body.properties)
        thing_id = new_id("thing")
        return Thing(
            id=thing_id,
            thingId=thing_id,
            placeId=place.id,
            placeKind=place.kind,
            thingTypeVersionId=version.id if version else None,
            createdAt=iso_from_ms(now_ms()),
            **{
                **body.model_dump(exclude={"properties"}),
                "thingType": body.thingType or (version.displayName if version else None),
            },
            properties=properties,
        )

    # ------------------------------------------------------------ read
    def visible(self, principal: Principal, thing_id: str) -> Thing:
        thing = self.repo.get_thing(principal.org_id, thing_id)
        if thing is None or not principal.can_see_thing(thing.id, thing.placeId):
            raise NotFound(f"thing {thing_id} not found")
        return thing

    def get(self, principal: Principal, thing_id: str) -> Thing:
        require(principal, "things:read")
        return self.visible(principal, thing_id)

    def list_in_place(
        self, principal: Principal, kind: PlaceKind, place_id: str, limit: int, cursor: str | None
    ) -> Page[Thing]:
        require(principal, "things:read")
        place = self.repo.get_place(principal.org_id, place_id)
        if place is None or place.kind is not kind:
            raise NotFound(f"{kind.value} {place_id} not found")
        reach = reachable_places(principal, self.repo)
        if reach is not None and place_id not in reach:  # none of the key's places or things is here
            raise NotFound(f"{kind.value} {place_id} not found")
        items, next_cursor = self.repo.list_things_in_place(principal.org_id, place_id, limit, cursor)
        visible = [t for t in items if principal.can_see_thing(t.id, t.placeId)]
        return Page[Thing](items=visible, continuationToken=next_cursor)


def _validate_properties(version: ThingTypeVersion | None, properties: dict[str, Any]) -> dict[str, Any]:
    """Unknown key, unparsable value, violated constraint or missing required property: 400 naming it."""
    definitions = {name_key(p.name): p for p in (version.propertyDefinitions if version else [])}
    errors: list[FieldError] = []
    parsed: dict[str, Any] = {}
    for name, raw in properties.items():
        definition = definitions.get(name_key(name))
        if definition is None:
            hint = "is not defined on the thing type" if version else "needs a thingTypeId that defines it"
            errors.append(FieldError(("properties", name), hint))
            continue
        try:
            value = parse_property_value(definition.valueType, raw)
        except ValueError as exc:
            errors.append(FieldError(("properties", name), str(exc)))
            continue
        failed = [c for c in definition.constraints if not check_constraint(definition.valueType, value, c)]
        if failed:
            rule = " and ".join(f"{c.operator.value} {c.value}" for c in failed)
            errors.append(FieldError(("properties", name), f"{raw!r} violates the constraint {rule}"))
            continue
        parsed[definition.name] = value
    for key, definition in definitions.items():
        if (
            definition.required
            and definition.name not in parsed
            and not any(e.path[:2] == ("properties", n) for e in errors for n in properties if name_key(n) == key)
        ):
            errors.append(FieldError(("properties", definition.name), "is required by the thing type"))
    if errors:
        raise ValidationFailed(errors, reason="invalid-property")
    return parsed
