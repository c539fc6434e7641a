"""In-memory SecretStore, PullScheduler and PullQueue (the integrations ports), for tests; and
test doubles of a connector and of the mapper, for the pull step's unit tests.

The last two stand in for the real ones that other branches build: :class:`ScriptedConnector` for the
connectors (``telemetry.adapters.connectors``), :func:`simple_mapper` for
``telemetry.services.integrations.mapping.map_records`` (the ``Integrations`` template target).
The pull step receives both by injection, so the real ones drop in unchanged.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from telemetry.errors import NotFound, Unavailable
from telemetry.models.readings import SeriesKind, SeriesRows
from telemetry.models.templates import Template
from telemetry.ports.integrations import ProviderRecord, PullPage, PullRequest, PullStep
from telemetry.services.integrations.mapping import MappedPage, ThingTarget
from telemetry.services.templates import ApplyReport


@dataclass
class ScriptedConnector:
    """A provider whose feed is ``records`` (a list of dicts), served ``page_size`` at a time
    after a cursor ``{"offset": n}``, exactly as a real connector pages. ``faults`` are raised,
    one per call, before any page is served; ``gate`` (if set) is called inside ``pull`` (to
    hold a step in flight); ``calls`` records every request."""

    records: list[dict[str, Any]] = field(default_factory=list)
    page_size: int = 2
    provider: str = "http"
    record_type: str = "Reading"
    faults: list[Exception] = field(default_factory=list)
    credentials_back: Mapping[str, Any] | None = None
    gate: Callable[[], None] | None = None
    calls: list[PullRequest] = field(default_factory=list)

    def pull(self, request: PullRequest) -> PullPage:
        self.calls.append(request)
        if self.gate is not None:
            self.gate()
        if self.faults:
            raise self.faults.pop(0)
        start = int((request.cursor or {}).get("offset", 0))
        chunk = self.records[start : start + self.page_size]
        end = start + len(chunk)
        return PullPage(
            records=[ProviderRecord(self.record_type, r) for r in chunk],
            cursor={"offset": end},
            more=end < len(self.records),
            credentials=self.credentials_back,
        )


def simple_mapper(
    template: Template, records: Sequence[ProviderRecord], targets: Mapping[str, ThingTarget], version: int
) -> MappedPage:
    """Records ``{"device": <external id>, "t": <epoch ms>, "values": {metricId: value}}`` onto
    the targets' things (only metrics on the thing's type); a record without ``t`` or with an
    unmapped device is reported as skipped, the rest go through."""
    report = ApplyReport(previewOnly=False, templateId=template.id, templateRevision=template.revision)
    rows: dict[str, dict[int, dict[str, Any]]] = {}
    types: dict[str, dict[str, Any]] = {}
    for index, record in enumerate(records):
        report.recordsParsed += 1
        data = record.data
        target = targets.get(str(data.get("device")))
        if target is None:
            report.skip(index, "unmapped_thing")
            continue
        if not isinstance(data.get("t"), int):
            report.skip(index, "missing_timestamp")
            continue
        values = {m: v for m, v in dict(data.get("values") or {}).items() if m in target.metrics}
        if not values:
            report.skip(index, "no_metric_values")
            continue
        rows.setdefault(target.thing_id, {}).setdefault(data["t"], {}).update(values)
        for m in values:
            types.setdefault(target.thing_id, {})[m] = target.metrics[m].dataType
    groups = []
    for thing_id, by_time in rows.items():
        report.readingsWritten += len(by_time)
        report.metricValuesWritten += sum(len(v) for v in by_time.values())
        groups.append(SeriesRows(SeriesKind.THING, thing_id, version, types[thing_id], sorted(by_time.items())))
    return MappedPage(groups=groups, report=report)


class InMemorySecretStore:
    def __init__(self) -> None:
        self.secrets: dict[str, dict[str, Any]] = {}  #: by ARN
        self.fail = False  #: reads raise Unavailable (Secrets Manager is down)

    @staticmethod
    def arn(name: str) -> str:
        return f"arn:aws:secretsmanager:us-east-1:000000000000:secret:{name}"

    def put(self, name: str, value: Mapping[str, Any]) -> str:
        arn = self.arn(name)
        self.secrets[arn] = copy.deepcopy(dict(value))
        return arn

    def get(self, arn: str) -> dict[str, Any]:
        if self.fail:
            raise Unavailable("secrets manager is down (test)")
        if arn not in self.secrets:
            raise NotFound("the integration's credentials are not set")
        return copy.deepcopy(self.secrets[arn])

    def delete(self, arn: str) -> None:
        self.secrets.pop(arn, None)


@dataclass(frozen=True, slots=True)
class FakeSchedule:
    every_minutes: int
    enabled: bool


class InMemoryPullScheduler:
    def __init__(self) -> None:
        self.schedules: dict[tuple[str, str], FakeSchedule] = {}
        self.fail = False  #: the next calls raise Unavailable (the scheduler is down)

    def upsert(self, org_id: str, integration_id: str, every_minutes: int, enabled: bool) -> None:
        if self.fail:
            raise Unavailable("the scheduler failed (test)")
        self.schedules[(org_id, integration_id)] = FakeSchedule(every_minutes, enabled)

    def delete(self, org_id: str, integration_id: str) -> None:
        if self.fail:
            raise Unavailable("the scheduler failed (test)")
        self.schedules.pop((org_id, integration_id), None)


class InMemoryPullQueue:
    def __init__(self) -> None:
        self.steps: list[PullStep] = []
        self.fail = False  #: sends raise Unavailable (the queue refuses)

    def send(self, step: PullStep) -> None:
        if self.fail:
            raise Unavailable("the pull queue refused the step (test)")
        self.steps.append(step)
