"""Resolve what ingestion needs to know about a thing, cached per warm container.

A thing's type version is immutable and a thing keeps its version for life, so the resolved
context (thing, version, metric definitions) is safe to reuse for a short TTL; the tenancy and
resource-filter checks are still made on every call, against the caller's principal.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field

from telemetry.errors import FailedDependency, NotFound
from telemetry.models.auth import Principal
from telemetry.models.metrics import MetricDefinition
from telemetry.models.thing_types import ThingTypeVersion
from telemetry.models.things import Thing
from telemetry.models.types import name_key
from telemetry.repositories.definitions import DefinitionsRepository


@dataclass(frozen=True, slots=True)
class ThingContext:
    thing: Thing
    version: ThingTypeVersion
    #: metric id -> definition, for the metrics on the thing's type version
    metrics: dict[str, MetricDefinition]
    #: metric name by telemetry.models.types.name_key (ASCII case-insensitive) -> definition
    by_name: dict[str, MetricDefinition] = field(default_factory=dict)


#: contexts kept per container; beyond it the oldest are dropped (a warm container serving many
#: things must not grow without bound)
MAX_CACHED_CONTEXTS = 5_000


class ThingContextResolver:
    def __init__(self, repo: DefinitionsRepository, ttl_seconds: float = 30.0) -> None:
        self.repo = repo
        self.ttl = ttl_seconds
        self._cache: dict[tuple[str, str], tuple[float, ThingContext]] = {}
        self._lock = threading.Lock()

    def resolve(self, principal: Principal, thing_id: str) -> ThingContext:
        key = (principal.org_id, thing_id)
        now = time.monotonic()
        cached = self._cache.get(key)
        if cached and cached[0] > now:
            ctx = cached[1]
        else:
            ctx = self._load(principal.org_id, thing_id)
            with self._lock:
                self._cache.pop(key, None)
                self._cache[key] = (now + self.ttl, ctx)  # insertion order = age
                while len(self._cache) > MAX_CACHED_CONTEXTS:
                    del self._cache[next(iter(self._cache))]
        if not principal.can_see_thing(ctx.thing.id, ctx.thing.placeId):
            raise NotFound(f"thing {thing_id} not found")
        return ctx

    def _load(self, org_id: str, thing_id: str) -> ThingContext:
        thing = self.repo.get_thing(org_id, thing_id)
        if thing is None:
            raise NotFound(f"thing {thing_id} not found")
        if not thing.thingTypeId or not thing.thingTypeVersionId:
            raise FailedDependency(
                f"thing {thing_id} has no thing type, so no time-series storage is initialized for it"
            )
        found = self.repo.get_thing_type(org_id, thing.thingTypeId)
        if found is None or found[0].deleted:
            raise FailedDependency(f"the thing type {thing.thingTypeId} of thing {thing_id} is deleted")
        if found[0].timeseriesStatus != "Ready":
            raise FailedDependency(f"the time-series storage of thing type {thing.thingTypeId} is not initialized")
        version = self.repo.get_thing_type_version(org_id, thing.thingTypeVersionId)
        if version is None:
            raise FailedDependency(f"thing type version {thing.thingTypeVersionId} is missing")
        metrics = self.repo.get_metrics(org_id, version.metricIds)
        ordered = {mid: metrics[mid] for mid in version.metricIds if mid in metrics}
        by_name = {name_key(m.name): m for m in ordered.values() if not m.deleted}
        return ThingContext(thing=thing, version=version, metrics=ordered, by_name=by_name)
