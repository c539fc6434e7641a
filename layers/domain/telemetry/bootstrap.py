"""The composition root: wires adapters into services. Handlers and the CLI get services here.

Adapters are built lazily, so a function that only reads definitions never constructs an SQS
or ReadingStore client (cold start), and unit tests inject in-memory fakes.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cache, cached_property
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # services are imported where they are built: a function loads only what it uses
    from telemetry.ports.definitions import ItemStore
    from telemetry.ports.readings import ReadingQueue, ReadingStore
    from telemetry.services.auth import KeyService
    from telemetry.services.ingest import FrameIngest
    from telemetry.services.metrics import MetricService
    from telemetry.services.places import PlaceService
    from telemetry.services.queries import ThingQueries
    from telemetry.services.thing_context import ThingContextResolver
    from telemetry.services.thing_types import ThingTypeService
    from telemetry.services.things import ThingService


class Container:
    def __init__(
        self,
        store: ItemStore,
        queue: Callable[[], ReadingQueue] | None = None,
        readings: Callable[[], ReadingStore] | None = None,
        cache_ttl_seconds: float = 30.0,
    ) -> None:
        from telemetry.adapters.definitions import DefinitionsRepository

        self.repo = DefinitionsRepository(store)
        self._queue_factory = queue
        self._readings_factory = readings
        self.cache_ttl_seconds = cache_ttl_seconds

    # ------------------------------------------------------------ adapters
    @cached_property
    def queue(self) -> ReadingQueue:
        if self._queue_factory is None:
            raise RuntimeError("no reading queue configured")
        return self._queue_factory()

    @cached_property
    def readings(self) -> ReadingStore:
        if self._readings_factory is None:
            raise RuntimeError("no reading store configured")
        return self._readings_factory()

    # ------------------------------------------------------------ services
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

    # ------------------------------------------------------------ construction
    @classmethod
    def from_env(cls) -> Container:
        from telemetry.adapters.items_dynamodb import DynamoDbItemStore
        from telemetry.settings import Settings

        settings = Settings.from_env()

        def queue() -> ReadingQueue:
            from telemetry.adapters.queue_sqs import SqsReadingQueue

            return SqsReadingQueue(settings.readings_queue_url)

        def readings() -> ReadingStore:
            from telemetry.adapters.readings_factory import reading_store_from_env

            return reading_store_from_env()

        return cls(DynamoDbItemStore(settings.definitions_table), queue, readings, settings.definitions_cache_ttl)

    @classmethod
    def in_memory(cls) -> Container:
        """Everything in memory: for unit tests (``c.queue`` / ``c.readings`` are the fakes)."""
        from telemetry.adapters.items_memory import InMemoryItemStore
        from telemetry.adapters.memory_readings import InMemoryReadingQueue, InMemoryReadingStore

        return cls(InMemoryItemStore(), InMemoryReadingQueue, InMemoryReadingStore)


@cache
def container() -> Container:
    """One container per Lambda execution environment (clients and caches survive warm starts)."""
    return Container.from_env()
