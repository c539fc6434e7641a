"""The parameter catalog behind the platform: per organization, one platform metric definition
per parameter (``amq.<code>``, Double, the canonical unit and range) and one thing type
("Ambiquality sensor") listing all of them. Created on first use (the first sensor of the
organization), idempotently and safely under concurrency.

Every sensor's thing has that one type, whatever parameters the sensor declares, so a PATCH of
the declared parameters never needs a new thing (a thing keeps its type version for life); the
declared parameters are enforced by the measurements endpoint, not by the thing type.
"""

from __future__ import annotations

import threading

from telemetry.clock import iso_from_ms, now_ms
from telemetry.errors import Conflict
from telemetry.ids import new_id
from telemetry.models.ambiquality import CATALOG, METRIC_NAME_PREFIX, ParameterCatalog
from telemetry.models.metrics import Aggregation, DataType, MetricDefinition, ValidRange
from telemetry.models.thing_types import PropertyDefinition, ThingType, ThingTypeVersion, ValueType
from telemetry.repositories.ambiquality import AmbiqualityRepository

THING_TYPE_NAME = "Ambiquality sensor"
#: Thing properties every sensor's thing carries (so a platform user can find the sensor).
THING_PROPERTIES = ("sensorId", "roomId", "buildingId")


def catalog_parameters() -> list[dict[str, object]]:
    """The read-only catalog as served at GET /ingestion/v1/parameters."""
    return [p.as_dict() for p in CATALOG]


class CatalogProvisioner:
    def __init__(self, repo: AmbiqualityRepository) -> None:
        self.repo = repo
        self._known: dict[str, ParameterCatalog] = {}
        self._lock = threading.Lock()

    def ensure(self, org_id: str) -> ParameterCatalog:
        cached = self._known.get(org_id)
        if cached is not None:
            return cached
        catalog = self.repo.get_catalog(org_id) or self._create(org_id)
        with self._lock:
            self._known[org_id] = catalog
        return catalog

    def _create(self, org_id: str) -> ParameterCatalog:
        now = iso_from_ms(now_ms())
        metric_ids = {p.code: self._ensure_metric(org_id, p.code, now) for p in CATALOG}
        type_id = new_id("tdefi")
        version = ThingTypeVersion(
            id=new_id("tdef"),
            thingTypeId=type_id,
            version=1,
            displayName=THING_TYPE_NAME,
            description="Created by the Ambiquality measurements dialect: one metric per catalog parameter.",
            metricIds=list(metric_ids.values()),
            propertyDefinitions=[PropertyDefinition(name=n, valueType=ValueType.string) for n in THING_PROPERTIES],
            createdAt=now,
        )
        thing_type = ThingType(
            id=type_id,
            displayName=THING_TYPE_NAME,
            description=version.description,
            latestVersionId=version.id,
            latestVersion=1,
            createdAt=now,
            updatedAt=now,
        )
        catalog = ParameterCatalog(thingTypeId=type_id, thingTypeVersionId=version.id, metricIds=metric_ids)
        try:
            self.repo.create_catalog(org_id, catalog, thing_type, version)
        except Conflict:  # another request provisioned it first: use theirs
            winner = self.repo.get_catalog(org_id)
            if winner is None:
                raise
            return winner
        return catalog

    def _ensure_metric(self, org_id: str, code: str, now: str) -> str:
        name = METRIC_NAME_PREFIX + code
        existing = self.repo.metric_id_by_name(org_id, name)
        if existing:
            return existing
        parameter = next(p for p in CATALOG if p.code == code)
        metric = MetricDefinition(
            id=new_id("mdef"),
            name=name,
            displayName=parameter.name,
            description=parameter.description,
            dataType=DataType.Double,
            defaultAggregation=Aggregation.Avg,
            unitLabel=parameter.unit,
            validRange=ValidRange(min=parameter.min, max=parameter.max),
            createdAt=now,
        )
        try:
            self.repo.create_metric(org_id, metric)
        except Conflict:  # created concurrently
            winner = self.repo.metric_id_by_name(org_id, name)
            if winner is None:
                raise
            return winner
        return metric.id
