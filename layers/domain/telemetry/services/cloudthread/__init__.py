"""Composition of the stream ("cloudthread") dialect on top of the platform container."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache, cached_property

from telemetry.bootstrap import Container, container
from telemetry.services.cloudthread.ingest import StreamIngest
from telemetry.services.cloudthread.query import StreamQueries
from telemetry.services.cloudthread.repo import StreamRepository
from telemetry.services.cloudthread.tokens import StreamTokenService


@dataclass
class CloudthreadServices:
    base: Container

    @cached_property
    def repo(self) -> StreamRepository:
        return StreamRepository(self.base.repo.store)

    @cached_property
    def tokens(self) -> StreamTokenService:
        return StreamTokenService(self.repo)

    @cached_property
    def ingest(self) -> StreamIngest:
        return StreamIngest(self.tokens, self.repo, self.base.queue)

    @cached_property
    def queries(self) -> StreamQueries:
        return StreamQueries(self.repo, self.base.readings)


@cache
def _services_for(base: Container) -> CloudthreadServices:
    return CloudthreadServices(base)


def cloudthread_services() -> CloudthreadServices:
    """One per Lambda execution environment: cached per platform container (tests that replace the
    container, e.g. with ``container.cache_clear()``, get services built on the new one)."""
    return _services_for(container())
