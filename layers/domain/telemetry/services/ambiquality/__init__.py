"""The Ambiquality "sensor measurements" dialect (docs/ambiquality.md).

Composition: :func:`ambiquality_services` builds the dialect's services from the platform
container (its repository and reading queue), once per Lambda execution environment.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

from telemetry.adapters.ambiquality_repo import AmbiqualityRepository
from telemetry.bootstrap import Container, container
from telemetry.services.ambiquality.catalog import CatalogProvisioner
from telemetry.services.ambiquality.measurements import MeasurementIngest
from telemetry.services.ambiquality.operator import SensorAdmin


@dataclass(frozen=True, slots=True)
class AmbiqualityServices:
    container: Container
    repo: AmbiqualityRepository
    catalog: CatalogProvisioner
    admin: SensorAdmin
    measurements: MeasurementIngest


def build_services(c: Container) -> AmbiqualityServices:
    """The dialect's services on any container (tests: ``Container.in_memory()``).

    The queue is resolved lazily (``lambda: c.queue``) so the operator functions never build an
    SQS client."""
    repo = AmbiqualityRepository(c.repo)
    catalog = CatalogProvisioner(repo)
    return AmbiqualityServices(
        container=c,
        repo=repo,
        catalog=catalog,
        admin=SensorAdmin(repo, catalog),
        measurements=MeasurementIngest(repo, lambda: c.queue),
    )


_current: AmbiqualityServices | None = None
_lock = threading.Lock()


def ambiquality_services() -> AmbiqualityServices:
    """One set per Lambda execution environment, built on :func:`telemetry.bootstrap.container`.

    Follows the container: when ``container.cache_clear()`` makes a new one (tests, the local
    stack), the dialect's services are rebuilt on it instead of keeping stale adapters."""
    global _current
    c = container()
    current = _current
    if current is None or current.container is not c:
        with _lock:
            if _current is None or _current.container is not c:
                _current = build_services(c)
            current = _current
    return current
