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
    from telemetry.ports.integrations import PullQueue, PullScheduler, SecretStore


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
