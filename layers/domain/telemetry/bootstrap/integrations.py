"""The integrations graph's ports (secrets, scheduler, pull queue) and repository, on the
platform container. Each port is built on first use; tests pass fakes instead::

    c.integration_ports = IntegrationPorts(c, secrets=fake, scheduler=fake, pull_queue=fake)
"""

from __future__ import annotations

from functools import cached_property
from typing import TYPE_CHECKING

from telemetry.repositories.integrations import IntegrationRepository

if TYPE_CHECKING:
    from telemetry.bootstrap import Container
    from telemetry.ports.integrations import Connector, PullQueue, PullScheduler, SecretStore
    from telemetry.services.integrations.pull import ConnectorFor, IntegrationPull, Mapper
    from telemetry.services.integrations.webhooks import IntegrationWebhooks
    from telemetry.settings import Settings


class IntegrationPorts:
    def __init__(
        self,
        base: Container,
        *,
        secrets: SecretStore | None = None,
        scheduler: PullScheduler | None = None,
        pull_queue: PullQueue | None = None,
    ) -> None:
        self.base = base
        self._secrets = secrets
        self._scheduler = scheduler
        self._pull_queue = pull_queue

    @cached_property
    def repo(self) -> IntegrationRepository:
        return IntegrationRepository(self.base.store)

    @cached_property
    def secrets(self) -> SecretStore:
        if self._secrets is not None:
            return self._secrets
        from telemetry.adapters.secrets_manager import SecretsManagerStore

        return SecretsManagerStore()

    @cached_property
    def scheduler(self) -> PullScheduler:
        if self._scheduler is not None:
            return self._scheduler
        from telemetry.adapters.scheduler_eventbridge import EventBridgePullScheduler

        config = self.base.settings
        return EventBridgePullScheduler(
            config.required("scheduler_group", "SCHEDULER_GROUP"),
            config.required("pull_queue_arn", "PULL_QUEUE_ARN"),
            config.required("scheduler_role_arn", "SCHEDULER_ROLE_ARN"),
        )

    @cached_property
    def pull_queue(self) -> PullQueue:
        if self._pull_queue is not None:
            return self._pull_queue
        from telemetry.adapters.pull_queue_sqs import SqsPullQueue

        return SqsPullQueue(self.base.settings.required("pull_queue_url", "PULL_QUEUE_URL"))


# ---------------------------------------------------------------- pulls and webhooks (intg-pull)


def connector_factory(config: Settings) -> ConnectorFor:
    """``provider -> Connector`` on the real connectors, each built once, all under the egress
    rules of this stack (loopback only where ``INTEGRATIONS_ALLOW_LOOPBACK`` is set: the local stack)."""
    built: dict[str, Connector] = {}

    def connector_for(provider: str) -> Connector:
        if provider not in built:
            from telemetry.adapters.connectors import connector_for as real_connector_for
            from telemetry.adapters.egress import EgressPolicy

            egress = EgressPolicy(
                allow_loopback=config.integrations_allow_loopback,
                timeout_s=config.provider_timeout_seconds,
                max_response_bytes=config.provider_max_response_bytes,
            )
            built[provider] = real_connector_for(provider, egress)
        return built[provider]

    return connector_for


def build_integration_pull(
    base: Container, *, connector_for: ConnectorFor | None = None, mapper: Mapper | None = None
) -> IntegrationPull:
    """The pull step on the container's ports: the SAME reading queue as every other reading,
    the integrations' pull queue and secrets; the real connectors and template mapping unless
    a test passes stand-ins."""
    from telemetry.services.integrations.pull import IntegrationPull, PullSettings

    if mapper is None:
        from telemetry.services.integrations.mapping import map_records

        mapper = map_records
    config = base.settings
    ports = base.integration_ports
    return IntegrationPull(
        ports.repo,
        base.templates.catalog,
        base.contexts,
        ports.secrets,
        connector_for or connector_factory(config),
        mapper,
        lambda: base.queue,
        lambda: ports.pull_queue,
        PullSettings(
            lease_ms=int(config.pull_lease_seconds * 1000),
            first_run_lookback_ms=int(config.pull_first_run_lookback_hours * 3600 * 1000),
        ),
    )


def build_integration_webhooks(base: Container) -> IntegrationWebhooks:
    from telemetry.repositories.integration_hooks import WebhookDirectory
    from telemetry.services.integrations.webhooks import IntegrationWebhooks

    ports = base.integration_ports
    return IntegrationWebhooks(
        WebhookDirectory(base.store),
        ports.repo,
        ports.secrets,
        lambda: ports.pull_queue,
        replay_window_s=base.settings.webhook_replay_window_seconds,
    )
