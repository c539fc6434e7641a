"""Metric fixtures for the template engine tests (built from MetricDefinition, as the store returns them)."""

from __future__ import annotations

from typing import Any

import pytest
from telemetry.models.metrics import Aggregation, DataType, EnumValue, MetricDefinition, ValidRange
from telemetry.models.templates import Template, TemplateFormat, TemplateTarget

CREATED = "2024-06-20T12:00:00Z"


def metric(mid: str, dtype: DataType, **extra: Any) -> MetricDefinition:
    agg = Aggregation.Last if dtype not in (DataType.Double,) or extra.get("enumValues") else Aggregation.Avg
    return MetricDefinition(
        id=mid, name=mid.removeprefix("mdef_"), dataType=dtype, defaultAggregation=agg, createdAt=CREATED, **extra
    )


STATE_ENUM = [EnumValue(code=0, label="Idle"), EnumValue(code=1, label="Running"), EnumValue(code=2, label="Fault")]


@pytest.fixture
def metrics() -> dict[str, MetricDefinition]:
    defs = [
        metric("mdef_voltage", DataType.Double),
        metric("mdef_state", DataType.Int, enumValues=STATE_ENUM),
        metric("mdef_mode", DataType.String),
        metric("mdef_fw", DataType.String),
        metric("mdef_torque", DataType.Double),
        metric("mdef_count", DataType.Int),
        metric("mdef_flag", DataType.Bool),
        metric("mdef_soc", DataType.Double, validRange=ValidRange(min=0, max=100)),
        metric("mdef_blob", DataType.Json),
        metric("mdef_gone", DataType.Double, deleted=True),
    ]
    return {m.id: m for m in defs}


@pytest.fixture
def all_ids(metrics: dict[str, MetricDefinition]) -> set[str]:
    return set(metrics)


def make_template(
    target: str, fmt: str, spec: dict[str, Any], *, revision: int = 1, tid: str = "tmpl_test"
) -> Template:
    return Template(
        id=tid,
        revision=revision,
        createdAt=CREATED,
        updatedAt=CREATED,
        name="t",
        target=TemplateTarget(target),
        format=TemplateFormat(fmt),
        spec=spec,
    )


SPEC_EXAMPLE: dict[str, Any] = {
    "name": "Acme Telemetry v1",
    "target": "ThingData",
    "format": "JsonPointer",
    "spec": {
        "recordsPointer": "/readings",
        "timestamp": {
            "source": {"pointer": "/ts"},
            "format": "iso8601",
        },
        "mappings": [
            {
                "metricId": "mdef_voltage",
                "source": {"pointer": "/v"},
                "transform": {"scale": 0.1, "offset": 0},
            },
            {
                "metricId": "mdef_state",
                "source": {"pointer": "/state"},
                "enumMap": {"RUNNING": 1, "IDLE": 0, "FAULT": 2},
            },
            {
                "metricId": "mdef_mode",
                "source": {"pointer": "/mode"},
                "default": "auto",
            },
            {
                "metricId": "mdef_fw",
                "source": {"pointer": "/header/fw", "scope": "document"},
            },
        ],
    },
}
"""The example template of docs "Templates" (aerovy-templates.md), verbatim."""


def jp_spec(
    *mappings: dict[str, Any], records: str | None = "/r", ts: str = "/t", fmt: str = "epoch_ms"
) -> dict[str, Any]:
    spec: dict[str, Any] = {"timestamp": {"source": {"pointer": ts}, "format": fmt}, "mappings": list(mappings)}
    if records is not None:
        spec["recordsPointer"] = records
    return spec


def m(metric_id: str, pointer: str, **extra: Any) -> dict[str, Any]:
    return {"metricId": metric_id, "source": {"pointer": pointer}, **extra}
