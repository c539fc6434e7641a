"""Buckets and data sources (platform API). Each bucket is backed by a platform fleet and each
data source by a platform thing in it, whose thing type's metrics are the schema's value keys,
so points ingested through ``/api/data`` are visible through ``/v2/things/{thingId}/...``.
"""

from __future__ import annotations

from telemetry.clock import iso_from_ms, now_ms
from telemetry.errors import Conflict, Forbidden, NotFound
from telemetry.ids import new_id, new_object_id
from telemetry.models.auth import Principal
from telemetry.models.base import Page
from telemetry.models.dakkio import Bucket, BucketCreate, DataSource, DataSourceCreate
from telemetry.models.metrics import Aggregation, DataType, MetricDefinition
from telemetry.models.places import Place, PlaceKind
from telemetry.models.thing_types import ThingType, ThingTypeVersion
from telemetry.models.things import Thing
from telemetry.repositories.buckets import BucketRepository
from telemetry.repositories.definitions import DefinitionsRepository, org_pk
from telemetry.services.auth import reachable_places, require

#: marks the platform metric definitions this dialect created (and may therefore reuse)
MARK = "Created by the bucket data points dialect"
POINT_METRIC = "dakkio.point"


class BucketService:
    def __init__(self, repo: BucketRepository, platform: DefinitionsRepository) -> None:
        self.repo = repo
        self.platform = platform

    # ------------------------------------------------------------ buckets
    def create_bucket(self, principal: Principal, body: BucketCreate) -> Bucket:
        require(principal, "buckets:write")
        if principal.filtered:
            raise Forbidden("a key with resource filters cannot create buckets")
        now = iso_from_ms(now_ms())
        bucket_id = new_object_id()
        fleet = Place(
            id=new_id("fleet"),
            kind=PlaceKind.fleet,
            name=f"bucket {body.name}",
            description=f"Backs the data points bucket {bucket_id}",
            tags={"bucketId": bucket_id},
            createdAt=now,
        )
        self.platform.create_place(principal.org_id, fleet)
        bucket = Bucket(id=bucket_id, name=body.name, description=body.description, fleetId=fleet.id, createdAt=now)
        self.repo.put_bucket(principal.org_id, bucket)
        return bucket

    def list_buckets(self, principal: Principal, limit: int, cursor: str | None) -> Page[Bucket]:
        require(principal, "buckets:read")
        items, next_cursor = self.repo.list_buckets(principal.org_id, limit, cursor)
        reach = reachable_places(principal, self.platform)
        if reach is not None:
            items = [b for b in items if b.fleetId in reach]
        return Page[Bucket](items=items, continuationToken=next_cursor)

    def get_bucket(self, principal: Principal, bucket_id: str) -> Bucket:
        require(principal, "buckets:read")
        return self._reachable(principal, bucket_id)

    def _reachable(self, principal: Principal, bucket_id: str) -> Bucket:
        """The bucket, if it is the org's and the key's filters reach its fleet (else 404)."""
        bucket = self.repo.get_bucket(principal.org_id, bucket_id)
        reach = reachable_places(principal, self.platform) if bucket is not None else None
        if bucket is None or (reach is not None and bucket.fleetId not in reach):
            raise NotFound(f"bucket {bucket_id} not found")
        return bucket

    # ------------------------------------------------------------ data sources
    def create_data_source(self, principal: Principal, bucket_id: str, body: DataSourceCreate) -> DataSource:
        require(principal, "buckets:write")
        bucket = self._reachable(principal, bucket_id)  # outside the key's reach: 404 before 403
        if principal.filtered:
            raise Forbidden("a key with resource filters cannot create data sources")
        org = principal.org_id
        source_id = new_object_id()
        now = iso_from_ms(now_ms())
        metric_ids = {
            key: self._metric(org, key, spec.type.data_type, source_id, spec.unit, now)
            for key, spec in body.schema_.items()
        }
        point_metric = self._metric(org, POINT_METRIC, DataType.Json, source_id, None, now)
        type_id = new_id("tdefi")
        version = ThingTypeVersion(
            id=new_id("tdef"),
            thingTypeId=type_id,
            version=1,
            displayName=f"data source {body.name}",
            description=f"Schema of the data source {source_id} (bucket {bucket_id})",
            metricIds=[*metric_ids.values(), point_metric],
            propertyDefinitions=[],
            createdAt=now,
        )
        thing_type = ThingType(
            id=type_id,
            displayName=version.displayName,
            description=version.description,
            latestVersionId=version.id,
            latestVersion=1,
            createdAt=now,
            updatedAt=now,
        )
        self.platform.create_thing_type(org, thing_type, version)
        thing_id = new_id("thing")
        thing = Thing(
            id=thing_id,
            thingId=thing_id,
            thingName=body.name,
            placeId=bucket.fleetId,
            placeKind=PlaceKind.fleet,
            thingType=thing_type.displayName,
            thingTypeId=type_id,
            thingTypeVersionId=version.id,
            thingDescription=f"Data source {source_id} of bucket {bucket_id}",
            createdAt=now,
        )
        self.platform.create_things(org, [thing])
        source = DataSource(
            id=source_id,
            bucketId=bucket_id,
            name=body.name,
            description=body.description,
            schema=body.schema_,
            thingId=thing_id,
            thingTypeId=type_id,
            metricIds=metric_ids,
            pointMetricId=point_metric,
            createdAt=now,
        )
        self.repo.put_data_source(org, source)
        return source

    def list_data_sources(
        self, principal: Principal, bucket_id: str, limit: int, cursor: str | None
    ) -> Page[DataSource]:
        require(principal, "buckets:read")
        bucket = self._reachable(principal, bucket_id)
        items, next_cursor = self.repo.list_data_sources(principal.org_id, bucket_id, limit, cursor)
        items = [s for s in items if principal.can_see_thing(s.thingId, bucket.fleetId)]
        return Page[DataSource](items=items, continuationToken=next_cursor)

    def _metric(self, org: str, name: str, dtype: DataType, source_id: str, unit: str | None, now: str) -> str:
        """The platform metric of a value key: the org's metric of that name when this dialect made
        it with the same type; a new one of that name when the name is free; else ``<key>.<sourceId>``."""
        for _ in range(2):
            existing = self._by_name(org, name)
            if existing is not None:
                if existing.dataType is dtype and existing.description == MARK and not existing.deleted:
                    return existing.id
                return self._create(org, f"{name}.{source_id}", dtype, unit, now)
            try:
                return self._create(org, name, dtype, unit, now)
            except Conflict:  # created concurrently: look again
                continue
        raise Conflict(f"the metric name {name!r} is being created concurrently; retry")

    def _by_name(self, org: str, name: str) -> MetricDefinition | None:
        found = self.platform.store.get(org_pk(org), f"METRICNAME#{name.casefold()}")
        return self.platform.get_metric(org, found.doc["metricId"]) if found else None

    def _create(self, org: str, name: str, dtype: DataType, unit: str | None, now: str) -> str:
        numeric = dtype in (DataType.Double, DataType.Int)
        metric = MetricDefinition(
            id=new_id("mdef"),
            name=name,
            description=MARK,
            dataType=dtype,
            defaultAggregation=Aggregation.Avg if numeric else Aggregation.Last,
            unitLabel=unit,
            createdAt=now,
        )
        self.platform.create_metric(org, metric)
        return metric.id
