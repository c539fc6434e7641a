"""The stream ("cloudthread") dialect's graph, on the platform container."""

from __future__ import annotations

from functools import cached_property
from typing import TYPE_CHECKING

from telemetry.repositories.streams import StreamRepository
from telemetry.services.cloudthread.ingest import StreamIngest
from telemetry.services.cloudthread.query import StreamQueries
from telemetry.services.cloudthread.tokens import StreamTokenService

if TYPE_CHECKING:
    from telemetry.bootstrap import Container


class CloudthreadServices:
    def __init__(self, base: Container) -> None:
        self.base = base

    @cached_property
    def repo(self) -> StreamRepository:
        return StreamRepository(self.base.store)

    @cached_property
    def tokens(self) -> StreamTokenService:
        return StreamTokenService(self.repo)

    @cached_property
    def ingest(self) -> StreamIngest:
        return StreamIngest(self.tokens, self.repo, self.base.queue)

    @cached_property
    def queries(self) -> StreamQueries:
        return StreamQueries(self.repo, self.base.readings)
