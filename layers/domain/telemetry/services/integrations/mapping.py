"""Provider records → readings of an integration's things (the ``Integrations`` template target).

Placeholder of the templates branch's module, holding only the shared contract the pull step is
built against (``ThingTarget``, ``MappedPage``, ``map_records``'s signature); that branch's
module, which implements the mapping, replaces this file when the branches merge.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from telemetry.errors import NotSupported
from telemetry.models.metrics import MetricDefinition
from telemetry.models.readings import SeriesRows
from telemetry.models.templates import Template
from telemetry.ports.integrations import ProviderRecord
from telemetry.services.templates import ApplyReport


@dataclass(frozen=True, slots=True)
class ThingTarget:
    """Where an external id's readings go: the thing and the metrics of its active type."""

    thing_id: str
    metrics: Mapping[str, MetricDefinition]


@dataclass(slots=True)
class MappedPage:
    """One page mapped: rows per thing (kind THING, series = thing id, keyed by metric id) + report."""

    groups: list[SeriesRows]
    report: ApplyReport


def map_records(
    template: Template,
    records: Sequence[ProviderRecord],
    targets: Mapping[str, ThingTarget],
    version: int,
) -> MappedPage:
    raise NotSupported("the Integrations template target is not in this build")
