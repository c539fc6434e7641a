"""Test doubles of the integrations ports, and of the mapper, for the pull step's unit tests.

They stand in for the real ones that other branches build: :class:`ScriptedConnector` for the
connectors (``telemetry.adapters.connectors``), :func:`simple_mapper` for
``telemetry.services.integrations.mapping.map_records`` (the ``Integrations`` template target).
The pull step receives both by injection, so the real ones drop in unchanged.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from telemetry.errors import Unavailable
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
    """Secrets by ARN (``arn:secret:<name>``); ``fail`` makes ``get`` raise Unavailable."""

    def __init__(self) -> None:
        self.values: dict[str, dict[str, Any]] = {}
        self.fail = False

    def put(self, name: str, value: Mapping[str, Any]) -> str:
        arn = f"arn:secret:{name}"
        self.values[arn] = dict(value)
        return arn

    def get(self, arn: str) -> dict[str, Any]:
        if self.fail:
            raise Unavailable("secrets manager is down")
        return dict(self.values[arn])

    def delete(self, arn: str) -> None:
        self.values.pop(arn, None)


class InMemoryPullQueue:
    """Collects sent steps; ``fail`` makes ``send`` raise Unavailable."""

    def __init__(self) -> None:
        self.sent: list[PullStep] = []
        self.fail = False
        self._lock = threading.Lock()

    def send(self, step: PullStep) -> None:
        if self.fail:
            raise Unavailable("the pull queue refused the step")
        with self._lock:
            self.sent.append(step)
