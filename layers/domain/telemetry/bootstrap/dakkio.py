"""The bucket data points ("dakkio") dialect's graph, on the platform container."""

from __future__ import annotations

from functools import cached_property
from typing import TYPE_CHECKING

from telemetry.repositories.buckets import BucketRepository
from telemetry.services.dakkio.buckets import BucketService
from telemetry.services.dakkio.ingest import DataPointIngest, DefinitionsCache
from telemetry.services.dakkio.query import DataPointQueries
from telemetry.services.dakkio.ratelimit import RateLimit, TokenBucketLimiter

if TYPE_CHECKING:
    from telemetry.bootstrap import Container


class DakkioServices:
    def __init__(self, base: Container, rate_limit: RateLimit | None = None) -> None:
        self.base = base
        self.rate_limit = rate_limit or RateLimit(
            burst=base.settings.dakkio_rate_burst, per_second=base.settings.dakkio_rate_per_second
        )

    @cached_property
    def repo(self) -> BucketRepository:
        return BucketRepository(self.base.store)

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
        return TokenBucketLimiter(self.base.store, self.rate_limit)
