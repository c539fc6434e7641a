"""Test doubles of the ports (in-memory stores and queue). Never shipped in the Lambda layer."""

from __future__ import annotations

from telemetry.bootstrap import Container, bootstrap
from telemetry.settings import Settings

from tests.fakes.integrations import InMemoryPullQueue, InMemoryPullScheduler, InMemorySecretStore
from tests.fakes.items import InMemoryItemStore
from tests.fakes.readings import InMemoryReadingQueue, InMemoryReadingStore


def in_memory_container(config: Settings | None = None) -> Container:
    """The composition root on fakes: every service real, every port in memory
    (``c.queue`` / ``c.readings`` / ``c.integration_ports.*`` are the fakes)."""
    from telemetry.bootstrap.integrations import IntegrationPorts

    c = bootstrap(
        config or Settings(), store=InMemoryItemStore(), queue=InMemoryReadingQueue, readings=InMemoryReadingStore
    )
    c.integration_ports = IntegrationPorts(
        c, secrets=InMemorySecretStore(), scheduler=InMemoryPullScheduler(), pull_queue=InMemoryPullQueue()
    )
    return c
