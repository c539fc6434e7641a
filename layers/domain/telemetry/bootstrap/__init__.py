"""The composition root: the one place that wires adapters into services.

Handlers (``functions/*/app.py`` and ``telemetry.http``) get every service from
:func:`container`; tests build the same graph on fakes with :func:`bootstrap` (cosmicpython's
``bootstrap(uow=FakeUnitOfWork())``)::

    c = bootstrap(store=InMemoryItemStore(), queue=InMemoryReadingQueue, readings=InMemoryReadingStore)

Everything is built lazily, on first use: a function that only reads definitions never imports
the SQS or ReadingStore adapters nor creates their clients (cold start), and a dialect's graph
is built only in that dialect's functions. One module per dialect graph sits beside this one.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from functools import cached_property
from typing import TYPE_CHECKING

from telemetry.settings import Settings, settings

if TYPE_CHECKING:  # services are imported where they are built: a function loads only what it uses
    from telemetry.bootstrap.ambiquality import AmbiqualityServices
    from telemetry.bootstrap.cloudthread import CloudthreadServices
    from telemetry.bootstrap.dakkio import DakkioServices
    from telemetry.bootstrap.integrations import IntegrationPorts
    from telemetry.ports.definitions import ItemStore
    from telemetry.ports.readings import ReadingQueue, ReadingStore
    from telemetry.repositories.definitions import DefinitionsRepository
    from telemetry.services.auth import KeyService
    from telemetry.services.authn import Authenticator
    from telemetry.services.ingest import FrameIngest
    from telemetry.services.integrations.catalog import IntegrationCatalog
    from telemetry.services.integrations.pull import IntegrationPull
    from telemetry.services.integrations.webhooks import IntegrationWebhooks
    from telemetry.services.metrics import MetricService
    from telemetry.services.places import PlaceService
    from telemetry.services.queries import ThingQueries
    from telemetry.services.template_service import TemplateService
    from telemetry.services.thing_context import ThingContextResolver
    from telemetry.services.thing_types import ThingTypeService
    from telemetry.services.things import ThingService


class Container:
    """Every service of one execution environment, each built once, on first use."""

    def __init__(
        self,
        settings: Settings,
        store: Callable[[], ItemStore],
        queue: Callable[[], ReadingQueue],
        readings: Callable[[], ReadingStore],
    ) -> None:
        self.settings = settings
        self.cache_ttl_seconds = settings.definitions_cache_ttl
        self._store_factory = store
        self._queue_factory = queue
        self._readings_factory = readings

    # ------------------------------------------------------------ ports
    @cached_property
    def store(self) -> ItemStore:
        return self._store_factory()

    @cached_property
    def queue(self) -> ReadingQueue:
        return self._queue_factory()

    @cached_property
    def readings(self) -> ReadingStore:
        return self._readings_factory()

    @cached_property
    def repo(self) -> DefinitionsRepository:
        from telemetry.repositories.definitions import DefinitionsRepository

        return DefinitionsRepository(self.store)

    # ------------------------------------------------------------ platform services
    @cached_property
    def authenticator(self) -> Authenticator:
        """The authorizer's graph: the item store and nothing of pydantic (cold start)."""
        from telemetry.services.authn import Authenticator

        return Authenticator(self.store)

    @cached_property
    def keys(self) -> KeyService:
        from telemetry.services.auth import KeyService

        return KeyService(self.repo)

    @cached_property
    def metrics(self) -> MetricService:
        from telemetry.services.metrics import MetricService

        return MetricService(self.repo)

    @cached_property
    def thing_types(self) -> ThingTypeService:
        from telemetry.services.thing_types import ThingTypeService

        return ThingTypeService(self.repo)

    @cached_property
    def places(self) -> PlaceService:
        from telemetry.services.places import PlaceService

        return PlaceService(self.repo)

    @cached_property
    def things(self) -> ThingService:
        from telemetry.services.things import ThingService

        return ThingService(self.repo)

    @cached_property
    def contexts(self) -> ThingContextResolver:
        from telemetry.services.thing_context import ThingContextResolver

        return ThingContextResolver(self.repo, self.cache_ttl_seconds)

    @cached_property
    def ingest(self) -> FrameIngest:
        from telemetry.services.ingest import FrameIngest

        return FrameIngest(self.contexts, self.queue)

    @cached_property
    def queries(self) -> ThingQueries:
        from telemetry.services.queries import ThingQueries

        return ThingQueries(self.contexts, self.readings)

    @cached_property
    def templates(self) -> TemplateService:
        from telemetry.repositories.templates import TemplatesRepository
        from telemetry.services.template_service import TemplateService

        return TemplateService(
            self.repo, TemplatesRepository(self.store), self.contexts, lambda: self.queue, lambda: self.readings
        )

    # ------------------------------------------------------------ integrations (intg-core)
    @cached_property
    def integration_ports(self) -> IntegrationPorts:
        from telemetry.bootstrap.integrations import IntegrationPorts

        return IntegrationPorts(self)

    @cached_property
    def integrations(self) -> IntegrationCatalog:
        """The Integrations API (``/v2/integrations``)."""
        from telemetry.repositories.templates import TemplatesRepository
        from telemetry.services.integrations.catalog import IntegrationCatalog

        ports = self.integration_ports
        return IntegrationCatalog(
            self.repo,
            ports.repo,
            TemplatesRepository(self.store),
            lambda: ports.secrets,
            lambda: ports.scheduler,
            lambda: ports.pull_queue,
        )

    # ------------------------------------------------------------ integration pulls and webhooks (intg-pull)
    @cached_property
    def integration_pull(self) -> IntegrationPull:
        """The pull step (the pull function, one step per pull-queue message)."""
        from telemetry.bootstrap.integrations import build_integration_pull

        return build_integration_pull(self)

    @cached_property
    def integration_webhooks(self) -> IntegrationWebhooks:
        """``POST /v2/integrations/{id}/webhook`` (signed by the provider, no API key)."""
        from telemetry.bootstrap.integrations import build_integration_webhooks

        return build_integration_webhooks(self)

    # ------------------------------------------------------------ dialects (one graph each)
    @cached_property
    def dakkio(self) -> DakkioServices:
        from telemetry.bootstrap.dakkio import DakkioServices

        return DakkioServices(self)

    @cached_property
    def cloudthread(self) -> CloudthreadServices:
        from telemetry.bootstrap.cloudthread import CloudthreadServices

        return CloudthreadServices(self)

    @cached_property
    def ambiquality(self) -> AmbiqualityServices:
        from telemetry.bootstrap.ambiquality import AmbiqualityServices

        return AmbiqualityServices(self)


def bootstrap(
    config: Settings | None = None,
    *,
    store: ItemStore | None = None,
    queue: Callable[[], ReadingQueue] | None = None,
    readings: Callable[[], ReadingStore] | None = None,
) -> Container:
    """The container on the real adapters, or on whatever the caller passes (tests: fakes)."""
    config = settings() if config is None else config
    if store is not None:
        given = store

        def store_factory() -> ItemStore:
            return given
    else:

        def store_factory() -> ItemStore:
            from telemetry.adapters.items_dynamodb import DynamoDbItemStore

            return DynamoDbItemStore(config.required("definitions_table", "DEFINITIONS_TABLE"))

    def sqs_queue() -> ReadingQueue:
        from telemetry.adapters.queue_sqs import SqsReadingQueue

        return SqsReadingQueue(config.required("readings_queue_url", "READINGS_QUEUE_URL"))

    def reading_store() -> ReadingStore:
        from telemetry.adapters.readings_factory import reading_store

        return reading_store(config)

    return Container(config, store_factory, queue or sqs_queue, readings or reading_store)


def _build_container() -> Container:
    settings.cache_clear()
    return bootstrap(settings())


class _Once:
    """A cached zero-argument factory that builds at most once even when first called by many
    threads at once (``functools.cache`` runs the function in every racing thread, and each
    would get a container of its own: its own clients and definition caches)."""

    def __init__(self, build: Callable[[], Container]) -> None:
        self._build = build
        self._value: Container | None = None
        self._lock = threading.Lock()
        self.__doc__ = build.__doc__

    def __call__(self) -> Container:
        value = self._value
        if value is None:
            with self._lock:
                if self._value is None:
                    self._value = self._build()
                value = self._value
        return value

    def cache_clear(self) -> None:
        with self._lock:
            self._value = None


#: One container per Lambda execution environment (clients and caches survive warm starts).
#: ``container.cache_clear()`` (tests, the local stack) re-reads the settings too.
container = _Once(_build_container)
