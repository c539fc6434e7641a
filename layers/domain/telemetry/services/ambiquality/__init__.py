"""The Ambiquality "sensor measurements" dialect (docs/ambiquality.md).

Composition: :func:`ambiquality_services` builds the dialect's services from the platform
container (its repository and reading queue), once per Lambda execution environment.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

from telemetry.adapters.ambiquality_repo import AmbiqualityRepository
from telemetry.bootstrap import Container, container
from telemetry.services.ambiquality.catalog import CatalogProvisioner
from telemetry.services.ambiquality.measurements import MeasurementIngest
from telemetry.services.ambiquality.operator import SensorAdmin


@dataclass(frozen=True, slots=True)
class AmbiqualityServices:
    repo: AmbiqualityRepository
    catalog: CatalogProvisioner
    admin: SensorAdmin
    measurements: MeasurementIngest


def build_services(c: Container) -> AmbiqualityServices:
    """For tests: the dialect's services on any container (e.g. ``Container.in_memory()``).

    The queue is resolved lazily (``lambda: c.queue``) so the operator functions never build an
    SQS client."""
    repo = AmbiqualityRepository(c.repo)
    catalog = CatalogProvisioner(repo)
    return AmbiqualityServices(
        repo=repo,
        catalog=catalog,
        admin=SensorAdmin(repo, catalog),
        measurements=MeasurementIngest(repo, lambda: c.queue),
    )


@cache
def ambiquality_services() -> AmbiqualityServices:
    return build_services(container())
