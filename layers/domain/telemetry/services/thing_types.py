"""Thing types: a stable id and immutable versions. Things keep the version they were created with."""

from __future__ import annotations

from telemetry.clock import iso_from_ms, now_ms
from telemetry.errors import FieldError, NotFound, ValidationFailed
from telemetry.ids import new_id
from telemetry.models.auth import Principal
from telemetry.models.base import Page
from telemetry.models.thing_types import (
    ThingType,
    ThingTypeCreate,
    ThingTypeCreated,
    ThingTypeDetail,
    ThingTypeVersion,
    ThingTypeVersionCreate,
)
from telemetry.repositories.definitions import DefinitionsRepository
from telemetry.services.auth import require


class ThingTypeService:
    def __init__(self, repo: DefinitionsRepository) -> None:
        self.repo = repo

    def _check_metrics(self, org_id: str, metric_ids: list[str]) -> None:
        found = self.repo.get_metrics(org_id, metric_ids)
        errors = [
            FieldError(
                ("metricIds", i),
                f"metric {mid} does not exist" if mid not in found else f"metric {mid} is deleted",
            )
            for i, mid in enumerate(metric_ids)
            if mid not in found or found[mid].deleted
        ]
        if errors:
            raise ValidationFailed(errors, reason="unknown-metric")

    def create(self, principal: Principal, body: ThingTypeCreate) -> ThingTypeCreated:
        require(principal, "thing-types:write")
        self._check_metrics(principal.org_id, body.metricIds)
        now = iso_from_ms(now_ms())
        type_id = new_id("tdefi")
        version = ThingTypeVersion(
            id=new_id("tdef"),
            thingTypeId=type_id,
            version=1,
            displayName=body.displayName,
            description=body.description,
            metricIds=body.metricIds,
            propertyDefinitions=body.propertyDefinitions,
            createdAt=now,
        )
        thing_type = ThingType(
            id=type_id,
            displayName=body.displayName,
            description=body.description,
            latestVersionId=version.id,
            latestVersion=1,
            createdAt=now,
            updatedAt=now,
        )
        self.repo.create_thing_type(principal.org_id, thing_type, version)
        return ThingTypeCreated(
            id=type_id,
            thingTypeId=type_id,
            versionId=version.id,
            version=1,
            thingType=thing_type,
            definition=version,
        )

    def add_version(self, principal: Principal, thing_type_id: str, body: ThingTypeVersionCreate) -> ThingTypeCreated:
        require(principal, "thing-types:write")
        found = self.repo.get_thing_type(principal.org_id, thing_type_id)
        if found is None or found[0].deleted:
            raise NotFound(f"thing type {thing_type_id} not found")
        current, ver = found
        self._check_metrics(principal.org_id, body.metricIds)
        now = iso_from_ms(now_ms())
        number = current.latestVersion + 1
        version = ThingTypeVersion(
            id=new_id("tdef"),
            thingTypeId=current.id,
            version=number,
            displayName=body.displayName or current.displayName,
            description=body.description if body.description is not None else current.description,
            metricIds=body.metricIds,
            propertyDefinitions=body.propertyDefinitions,
            createdAt=now,
        )
        updated = current.model_copy(
            update={
                "latestVersionId": version.id,
                "latestVersion": number,
                "updatedAt": now,
                "displayName": version.displayName,
                "description": version.description,
            }
        )
        self.repo.add_thing_type_version(principal.org_id, updated, version, expected_ver=ver)
        return ThingTypeCreated(
            id=current.id,
            thingTypeId=current.id,
            versionId=version.id,
            version=number,
            thingType=updated,
            definition=version,
        )

    def get(self, principal: Principal, thing_type_id: str) -> ThingTypeDetail:
        require(principal, "thing-types:read")
        found = self.repo.get_thing_type(principal.org_id, thing_type_id)
        if found is None or found[0].deleted:
            raise NotFound(f"thing type {thing_type_id} not found")
        versions = self.repo.list_thing_type_versions(principal.org_id, thing_type_id)
        return ThingTypeDetail(**found[0].model_dump(), versions=versions)

    def list(self, principal: Principal, limit: int, cursor: str | None) -> Page[ThingType]:
        require(principal, "thing-types:read")
        items, next_cursor = self.repo.list_thing_types(principal.org_id, limit, cursor)
        return Page[ThingType](items=[t for t in items if not t.deleted], continuationToken=next_cursor)
