"""The record model every reading becomes ("Timestream-compatible", see docs/architecture.md).

A :class:`Record` is one multi-measure row: the series it belongs to (a thing, a sensor, a stream
series, a data source), the event time in epoch milliseconds UTC, typed measures, custom
dimensions, and a ``version`` (acceptance time in microseconds) so that the same series+time
written again with a higher version replaces the older row (upsert) and a redelivery of the same
message (same version) changes nothing.

These are slotted dataclasses, not pydantic models: they sit on the ingest hot path.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

import orjson

from telemetry.models.types import DataType


class SeriesKind(StrEnum):
    """What a series id names. Part of the record's identity and of its dimensions."""

    THING = "thing"
    SENSOR = "sensor"
    STREAM = "stream"
    DATAPOINT = "datapoint"
    TRANSACTION = "transaction"


@dataclass(frozen=True, slots=True)
class Measure:
    type: DataType
    value: Any


@dataclass(frozen=True, slots=True)
class Record:
    org_id: str
    kind: SeriesKind
    series_id: str
    time: int
    measures: Mapping[str, Measure]
    version: int
    dimensions: Mapping[str, str] = field(default_factory=dict)

    @property
    def key(self) -> tuple[str, str, str, int]:
        """Identity in the store: same key + higher version replaces."""
        return (self.org_id, self.kind.value, self.series_id, self.time)


@dataclass(slots=True)
class SeriesRows:
    """Rows of one series accepted together: the columnar form of many records.

    ``types`` is hoisted (a measure name has one type within a series), so the ingest hot path
    builds plain ``(time, {name: value})`` rows and never a dataclass per reading. ``ids``, when
    given, renames row keys to measure ids on expansion: frames ingest keeps each frame's own
    metrics dict (keyed by the names as sent) instead of copying it.
    """

    kind: SeriesKind
    series_id: str
    version: int
    types: dict[str, DataType]
    rows: list[tuple[int, dict[str, Any]]]
    dimensions: dict[str, str] = field(default_factory=dict)
    #: row key -> measure id (absent: the keys are the ids)
    ids: dict[str, str] | None = None

    def records(self, org_id: str) -> list[Record]:
        types = self.types
        ids = self.ids or {}
        return [
            Record(
                org_id=org_id,
                kind=self.kind,
                series_id=self.series_id,
                time=time,
                measures={ids.get(name, name): Measure(types[name], value) for name, value in values.items()},
                version=self.version,
                dimensions=self.dimensions,
            )
            for time, values in self.rows
        ]


class AcceptedBatch:
    """What one accepted request puts on the queue (split only when over the message size).

    Build it from ``groups`` (fast path) or from ``records`` (convenience); read it back as
    ``records``. Wire format (JSON)::

        {"v": 1, "id": "<batch id>", "org": "<org>",
         "groups": [{"k": "thing", "s": "<series>", "ver": 1718..., "d": {dims}, "t": {key: type},
                     "r": [[time, {key: value}], ...], "n": {key: measure id} (optional)}]}
    """

    __slots__ = ("batch_id", "groups", "org_id")

    def __init__(
        self,
        batch_id: str,
        org_id: str,
        records: Sequence[Record] | None = None,
        *,
        groups: list[SeriesRows] | None = None,
    ) -> None:
        self.batch_id = batch_id
        self.org_id = org_id
        self.groups: list[SeriesRows] = list(groups or [])
        if records:
            self.groups.extend(_group(records))

    @property
    def records(self) -> list[Record]:
        return [r for g in self.groups for r in g.records(self.org_id)]

    def __len__(self) -> int:
        return sum(len(g.rows) for g in self.groups)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, AcceptedBatch) and self.to_bytes() == other.to_bytes()

    def __repr__(self) -> str:
        return f"AcceptedBatch(id={self.batch_id!r}, org={self.org_id!r}, rows={len(self)})"

    def to_bytes(self) -> bytes:
        return orjson.dumps(
            {
                "v": 1,
                "id": self.batch_id,
                "org": self.org_id,
                "groups": [_group_doc(g) for g in self.groups],
            }
        )

    @classmethod
    def from_bytes(cls, data: bytes | str) -> AcceptedBatch:
        """Parse a queue message. Raises ``ValueError``, ``KeyError`` or ``TypeError`` on a poison message."""
        doc = orjson.loads(data)
        if not isinstance(doc, dict) or doc.get("v") != 1:
            raise ValueError("not a version 1 accepted batch")
        groups = []
        for g in doc["groups"]:
            types = {str(name): DataType(t) for name, t in g["t"].items()}
            rows = [(int(time), dict(values)) for time, values in g["r"]]
            for _, values in rows:
                missing = values.keys() - types.keys()
                if missing:
                    raise ValueError(f"measures without a type: {sorted(missing)}")
            ids = g.get("n")
            if ids is not None and not isinstance(ids, dict):
                raise ValueError("n must be an object")
            groups.append(
                SeriesRows(
                    ids={str(k): str(v) for k, v in ids.items()} if ids else None,
                    kind=SeriesKind(g["k"]),
                    series_id=str(g["s"]),
                    version=int(g["ver"]),
                    types=types,
                    rows=rows,
                    dimensions={str(k): str(v) for k, v in (g.get("d") or {}).items()},
                )
            )
        return cls(str(doc["id"]), str(doc["org"]), groups=groups)


def _group_doc(g: SeriesRows) -> dict[str, Any]:
    doc = {"k": g.kind.value, "s": g.series_id, "ver": g.version, "d": g.dimensions, "t": g.types, "r": g.rows}
    if g.ids:
        doc["n"] = g.ids
    return doc


def _group(records: Sequence[Record]) -> list[SeriesRows]:
    """Group records into SeriesRows; a measure whose type differs within a series opens a new group."""
    groups: list[SeriesRows] = []
    index: dict[tuple[Any, ...], SeriesRows] = {}
    for r in records:
        key = (r.kind, r.series_id, r.version, tuple(sorted(r.dimensions.items())))
        group = index.get(key)
        if group is not None and any(group.types.get(n, m.type) is not m.type for n, m in r.measures.items()):
            group = None
        if group is None:
            group = SeriesRows(r.kind, r.series_id, r.version, {}, [], dict(r.dimensions))
            groups.append(group)
            index[key] = group
        for name, measure in r.measures.items():
            group.types[name] = measure.type
        group.rows.append((r.time, {n: m.value for n, m in r.measures.items()}))
    return groups


@dataclass(frozen=True, slots=True)
class RejectedRecord:
    """A record the store refused. ``retryable`` decides: redeliver the message, or dead-letter it."""

    index: int
    reason: str
    retryable: bool


@dataclass(frozen=True, slots=True)
class AggregateRow:
    """One interval of an aggregate query: ``start`` is the interval's first millisecond."""

    start: int
    values: Mapping[str, Any]
