"""The engine's JsonPointer path (a record loop generated per template shape, with inline fast
paths) against the plain per-record loop (``jsonpointer_reference``): same readings (values, their
types and order), same report (counts and their order), on random records and random mappings:
absent, null, mistyped, out-of-range and unmapped values, bad and duplicate timestamps, non-object
records, defaults (valid or not), transforms, enum maps and document-scope selectors."""

from __future__ import annotations

import json
import os
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from telemetry.models.metrics import DataType, EnumValue, MetricDefinition, ValidRange
from telemetry.models.templates import JsonPointerSpec
from telemetry.services.templates.engine import parse_payload
from telemetry.services.templates.fmt_jsonpointer import apply_jsonpointer
from telemetry.services.templates.report import ApplyReport

from .conftest import metric
from .jsonpointer_reference import reference_apply_jsonpointer

EXAMPLES = int(os.environ.get("JSONPOINTER_EQUIVALENCE_EXAMPLES", "300"))

METRICS: dict[str, MetricDefinition] = {
    m.id: m
    for m in [
        metric("mdef_double", DataType.Double),
        metric("mdef_ranged", DataType.Double, validRange=ValidRange(min=0, max=100)),
        metric("mdef_int", DataType.Int),
        metric("mdef_int_ranged", DataType.Int, validRange=ValidRange(min=-5, max=5)),
        metric("mdef_enum", DataType.Int, enumValues=[EnumValue(code=c, label=f"L{c}") for c in range(3)]),
        metric("mdef_string", DataType.String),
        metric("mdef_bool", DataType.Bool),
        metric("mdef_gone", DataType.Double, deleted=True),
        metric("mdef_blob", DataType.Json),
    ]
}
METRIC_IDS = [*METRICS, "mdef_unknown"]
KEYS = ["a", "b", "c", "t"]
POINTERS = ["/a", "/b", "/c", "/t", "/n/a", "/l/0", "", "/missing"]
ISO = [
    "2024-06-20T12:00:00Z",
    "2024-06-20T12:00:00.0005Z",
    "2024-06-20T12:00:00.123456",
    "2024-06-20T14:00:00+02:00",
    "2024-06-20T12:00:00.5+00:00",
    "1969-12-31T23:59:59Z",
    "9999-12-31T23:59:59Z",
    "2024-06-20",
    "20240620T120000Z",
    "2024-13-01T00:00:00Z",
    "now",
    "",
]
SCALARS = st.one_of(
    st.integers(-10, 10),
    st.integers(-(2**63), 2**64 - 1),
    st.floats(allow_nan=False, allow_infinity=False),
    st.sampled_from([0.5, 2.0, 1e300, -0.0, 3.0, 2**63 - 1, 2**63, -(2**63), 2**64 - 1, 9.3e18]),
    st.sampled_from(["L0", "L1", "L2", "L3", "1", "2.5", "0x1", "", "x", "true", "2024-06-20T12:00:00Z"]),
    st.text(max_size=4),
    st.booleans(),
    st.none(),
)
VALUES = st.one_of(SCALARS, st.just({"k": 1}), st.just([1]), st.sampled_from(ISO))
TIMESTAMPS = st.one_of(
    st.sampled_from(ISO),
    st.sampled_from([1_718_884_800_000, 1_718_884_800_001, 1_718_884_800, "1718884800000", -1, 1.5e12]),
    st.none(),
)


@st.composite
def records(draw: st.DrawFn) -> Any:
    kind = draw(st.integers(0, 19))
    if kind == 0:
        return draw(st.sampled_from([[1, 2], 7, "r", None]))
    rec: dict[str, Any] = {k: draw(VALUES) for k in draw(st.lists(st.sampled_from(KEYS[:3]), unique=True))}
    if draw(st.integers(0, 9)):
        rec["t"] = draw(TIMESTAMPS)
    if draw(st.booleans()):
        rec["n"] = {"a": draw(VALUES), "t": draw(TIMESTAMPS)}
    if draw(st.integers(0, 4)) == 0:
        rec["l"] = [draw(VALUES)]
    return rec


@st.composite
def mappings(draw: st.DrawFn) -> dict[str, Any]:
    mid = draw(st.sampled_from(METRIC_IDS))
    out: dict[str, Any] = {"metricId": mid, "source": {"pointer": draw(st.sampled_from(POINTERS))}}
    if draw(st.integers(0, 5)) == 0:
        out["source"]["scope"] = "document"
    extra = draw(st.integers(0, 5))
    if extra == 1:
        scale, offset = draw(
            st.sampled_from([(0.1, 0.0), (0.1, -40.0), (2.0, 0.0), (1.0, 0.5), (0.0, 1.0), (1e308, 0)])
        )
        out["transform"] = {"scale": scale, "offset": offset}
    elif extra == 2:
        out["enumMap"] = draw(
            st.dictionaries(st.sampled_from(["L0", "L1", "on", "1", "true", "2.5"]), st.integers(-1, 3))
        )
    elif extra == 3:
        out["default"] = draw(st.sampled_from([0, 1, 2.5, "L1", "auto", "", True, 10**20]))
    return out


@st.composite
def cases(draw: st.DrawFn) -> tuple[dict[str, Any], Any]:
    recs = draw(st.lists(records(), max_size=12))
    # a shared pool of timestamps, so records merge
    pool = draw(st.lists(TIMESTAMPS, min_size=1, max_size=3))
    for rec in recs:
        if type(rec) is dict and "t" in rec and draw(st.booleans()):
            rec["t"] = draw(st.sampled_from(pool))
    doc: dict[str, Any] = {"r": recs, "a": draw(VALUES), "t": draw(TIMESTAMPS), "n": {"a": draw(VALUES)}}
    spec = {
        "recordsPointer": "/r",
        "timestamp": {
            "source": {"pointer": draw(st.sampled_from(["/t", "/t", "/n/t"]))},
            "format": draw(st.sampled_from(["iso8601", "iso8601", "epoch_ms", "epoch_s"])),
        },
        "mappings": draw(st.lists(mappings(), max_size=6)),
    }
    if draw(st.integers(0, 9)) == 0:
        spec["timestamp"]["source"]["scope"] = "document"
    return spec, doc


def both(spec_doc: tuple[dict[str, Any], Any], on_type: set[str]) -> tuple[Any, Any]:
    spec_raw, doc_raw = spec_doc
    spec = JsonPointerSpec.model_validate(spec_raw)
    doc = parse_payload(json.dumps(doc_raw))  # json: ints up to 2**64 - 1, as a client may send
    out = []
    for apply in (apply_jsonpointer, reference_apply_jsonpointer):
        report = ApplyReport(previewOnly=False, templateId="t", templateRevision=1)
        readings = apply(spec, doc, METRICS, on_type, report)
        typed = [(ts, [(k, type(v), v) for k, v in values.items()]) for ts, values in readings]
        out.append((typed, report.as_dict()))
    return out[0], out[1]


@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(case=cases(), off_type=st.sets(st.sampled_from(METRIC_IDS), max_size=2))
def test_the_generated_loop_gives_what_the_plain_loop_gives(
    case: tuple[dict[str, Any], Any], off_type: set[str]
) -> None:
    engine, reference = both(case, set(METRIC_IDS) - off_type)
    assert engine == reference


@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    n=st.integers(1, 30),
    value=st.sampled_from([7, 7.5, "L1", "auto", True, 2**63, 2**63 - 1, "", None]),
    dup=st.booleans(),
    data=st.data(),
)
def test_uniform_batches_the_fast_path_takes_give_what_the_plain_loop_gives(
    n: int, value: Any, dup: bool, data: st.DataObject
) -> None:
    """Batches where every record has every field (the all-fast-path case), with one record
    perturbed (a value of another type, a missing key, a bad timestamp) or none."""
    recs = [{"t": f"2024-06-20T12:00:{(i // 2 if dup else i) % 60:02d}.{i:03d}Z", "a": value, "b": i} for i in range(n)]
    perturb = data.draw(st.integers(-1, n - 1))
    if perturb >= 0:
        field = data.draw(st.sampled_from(["t", "a", "b"]))
        if data.draw(st.booleans()):
            del recs[perturb][field]
        else:
            recs[perturb][field] = data.draw(VALUES)
    mids = data.draw(st.lists(st.sampled_from(list(METRICS)), min_size=1, max_size=3))
    spec = {
        "recordsPointer": "/r",
        "timestamp": {"source": {"pointer": "/t"}, "format": "iso8601"},
        "mappings": [
            {"metricId": mid, "source": {"pointer": "/a" if i % 2 == 0 else "/b"}} for i, mid in enumerate(mids)
        ],
    }
    engine, reference = both((spec, {"r": recs}), set(METRICS))
    assert engine == reference
