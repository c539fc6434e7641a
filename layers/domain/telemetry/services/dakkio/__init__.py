"""Composition of the bucket data points ("dakkio") dialect on top of the platform container."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache, cached_property

from telemetry.bootstrap import Container, container
from telemetry.services.dakkio.buckets import BucketService
from telemetry.services.dakkio.ingest import DataPointIngest, DefinitionsCache
from telemetry.services.dakkio.query import DataPointQueries
from telemetry.services.dakkio.ratelimit import RateLimit, TokenBucketLimiter
from telemetry.services.dakkio.repo import BucketRepository


@dataclass
class DakkioServices:
    base: Container
    rate_limit: RateLimit

    @cached_property
    def repo(self) -> BucketRepository:
        return BucketRepository(self.base.repo.store)

    @cached_property
    def buckets(self) -> BucketService:
        return BucketService(self.repo, self.base.repo)

    @cached_property
    def definitions(self) -> DefinitionsCache:
        return DefinitionsCache(self.repo, self.base.cache_ttl_seconds)

    @cached_property
    def ingest(self) -> DataPointIngest:
        return DataPointIngest(self.definitions, self.base.queue)

    @cached_property
    def queries(self) -> DataPointQueries:
        return DataPointQueries(self.repo, self.definitions, self.base.readings)

    @cached_property
    def limiter(self) -> TokenBucketLimiter:
        return TokenBucketLimiter(self.base.repo.store, self.rate_limit)


@cache
def _services_for(base: Container) -> DakkioServices:
    return DakkioServices(base, RateLimit.from_env())


def dakkio_services() -> DakkioServices:
    """One per Lambda execution environment: cached per platform container (tests that replace the
    container, e.g. with ``container.cache_clear()``, get services built on the new one)."""
    return _services_for(container())
