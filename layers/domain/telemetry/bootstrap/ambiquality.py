"""The sensor measurements ("ambiquality") dialect's graph, on the platform container."""

from __future__ import annotations

from functools import cached_property
from typing import TYPE_CHECKING

from telemetry.repositories.ambiquality import AmbiqualityRepository
from telemetry.services.ambiquality.catalog import CatalogProvisioner
from telemetry.services.ambiquality.measurements import MeasurementIngest
from telemetry.services.ambiquality.operator import SensorAdmin

if TYPE_CHECKING:
    from telemetry.bootstrap import Container


class AmbiqualityServices:
    def __init__(self, base: Container) -> None:
        self.container = base

    @cached_property
    def repo(self) -> AmbiqualityRepository:
        return AmbiqualityRepository(self.container.repo)

    @cached_property
    def catalog(self) -> CatalogProvisioner:
        return CatalogProvisioner(self.repo)

    @cached_property
    def admin(self) -> SensorAdmin:
        return SensorAdmin(self.repo, self.catalog)

    @cached_property
    def measurements(self) -> MeasurementIngest:
        """The queue is resolved lazily: the operator functions never build an SQS client."""
        return MeasurementIngest(self.repo, lambda: self.container.queue)
