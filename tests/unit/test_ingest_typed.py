"""The typed (msgspec) way of frames ingest against the general one (orjson + ``_validate``).

For any body, the typed decoder either hands it to the general way (``accept`` answers None) or
answers exactly what the general way answers: the same rows, with the same value types (1 is
not 1.0 is not true: compared as orjson bytes, key order included), types, ids, names in
first-seen order and frame count. A body the general way refuses is never accepted.
"""

from __future__ import annotations

import json
from types import SimpleNamespace
from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from telemetry.errors import DomainError
from telemetry.models.metrics import MetricDefinition
from telemetry.models.types import INT64_MAX, INT64_MIN
from telemetry.services.ingest import MAX_FRAMES, _frames, _Plan, _plans, _Typed, _typed, _validate

T0 = 1718884800000
MAX_TIME = T0 + 60_000


def _metric(name: str, data_type: str, **extra: Any) -> MetricDefinition:
    return MetricDefinition.model_validate(
        {
            "id": f"met_{name.lower()}",
            "name": name,
            "dataType": data_type,
            "defaultAggregation": "Last",
            "createdAt": "2024-01-01T00:00:00Z",
            **extra,
        }
    )


MIXED = [
    _metric("soc", "Double"),
    _metric("voltage", "Double"),
    _metric("count", "Int"),
    _metric("online", "Bool"),
    _metric("firmware", "String"),
    _metric("bounded", "Double", validRange={"min": 0, "max": 100}),
    _metric("status", "Int", enumValues=[{"code": 0, "label": "IDLE"}, {"code": 1, "label": "RUNNING"}]),
    _metric("blob", "Json"),
]
DOUBLES = [_metric(f"m{i}", "Double") for i in range(4)]


def _plans_of(metrics: list[MetricDefinition]) -> dict[str, _Plan]:
    by_name = {m.name.lower(): m for m in metrics}
    return _plans(SimpleNamespace(by_name=by_name))  # type: ignore[arg-type]


PLANS = {"mixed": _plans_of(MIXED), "doubles": _plans_of(DOUBLES)}
TYPED: dict[str, _Typed] = {}
for _kind, _p in PLANS.items():
    _t = _typed(_p)
    assert _t is not None
    TYPED[_kind] = _t


def general(body: bytes, plans: dict[str, _Plan]) -> bytes | None:
    """The general way's answer as bytes (None: it refuses the body)."""
    try:
        frames = _frames(orjson.loads(body))
        rows, types, ids, seen = _validate(frames, plans, MAX_TIME)
    except (DomainError, orjson.JSONDecodeError):
        return None
    return orjson.dumps([rows, types, ids, seen, len(frames)])


def typed(body: bytes, kind: str) -> bytes | None:
    accepted = TYPED[kind].accept(body, MAX_TIME)
    if accepted is None:
        return None
    (rows, types, ids, seen), count = accepted
    return orjson.dumps([rows, types, ids, seen, count])


def check(body: bytes, kind: str) -> bytes | None:
    fast = typed(body, kind)
    if fast is not None:
        assert fast == general(body, PLANS[kind]), body
    return fast


NAMES = [m.name for m in MIXED] + [m.name for m in DOUBLES] + ["SOC", "Voltage", "M1", "unknown", "timestamp", ""]
scalars = st.one_of(
    st.floats(allow_nan=False, allow_infinity=False),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.sampled_from([0, 1, -0.0, 0.0, 1.0, 3.0, INT64_MAX, INT64_MIN, INT64_MAX + 1, INT64_MIN - 1, 2**64, 2**64 - 1]),
    st.booleans(),
    st.text(max_size=4),
    st.sampled_from(["", "1.5", "true", "IDLE", "7"]),
    st.none(),
)
values = st.one_of(scalars, st.lists(scalars, max_size=2), st.dictionaries(st.text(max_size=2), scalars, max_size=2))
timestamps = st.one_of(
    st.integers(min_value=T0 - 5, max_value=T0 + 5),
    st.integers(min_value=-5, max_value=2**66),
    st.sampled_from([MAX_TIME, MAX_TIME + 1, 0, -1, float(T0), True, str(T0), None]),
)


@st.composite
def frame(draw: st.DrawFn, names: list[str]) -> Any:
    if draw(st.integers(0, 40)) == 0:
        return draw(values)
    doc: dict[str, Any] = {}
    if draw(st.integers(0, 30)):
        doc["timestamp"] = draw(timestamps)
    if draw(st.integers(0, 30)):
        if draw(st.integers(0, 30)):
            doc["metrics"] = draw(st.dictionaries(st.sampled_from(names), values, max_size=5))
        else:
            doc["metrics"] = draw(values)
    if not draw(st.integers(0, 30)):
        doc[draw(st.sampled_from(["extra", "Timestamp", "metric"]))] = draw(scalars)
    return doc


#: values of each type's own kind (mostly what the typed way takes), for plausible frames
OWN: dict[str, st.SearchStrategy[Any]] = {
    "Double": st.one_of(st.floats(allow_nan=False, allow_infinity=False), st.integers(-(2**66), 2**66)),
    "Int": st.one_of(st.integers(INT64_MIN - 2, INT64_MAX + 2), st.sampled_from([0, 1, 3.0])),
    "Bool": st.one_of(st.booleans(), st.sampled_from([0, 1])),
    "String": st.text(max_size=3),
    "Json": values,
}


@st.composite
def plausible_metrics(draw: st.DrawFn, metrics: list[MetricDefinition]) -> dict[str, Any]:
    chosen = draw(st.lists(st.sampled_from(metrics), min_size=1, max_size=5, unique_by=lambda m: m.name))
    out: dict[str, Any] = {}
    for m in chosen:
        name = m.name if draw(st.integers(0, 20)) else m.name.upper()
        out[name] = draw(OWN[m.dataType.value] if draw(st.integers(0, 15)) else scalars)
    return out


@st.composite
def body(draw: st.DrawFn, metrics: list[MetricDefinition]) -> bytes:
    """Mostly plausible bodies (the typed decoder accepts many), with every kind of fault."""
    names = [m.name for m in metrics] + NAMES
    if draw(st.integers(0, 3)):  # plausible: known names, own-type values, timestamps mostly in range
        frames: Any = draw(
            st.lists(
                st.fixed_dictionaries(
                    {
                        "timestamp": st.one_of(
                            st.integers(T0 - 3, T0 + 3), st.sampled_from([-1, 0, MAX_TIME, MAX_TIME + 1, 2**64])
                        ),
                        "metrics": plausible_metrics(metrics),
                    }
                ),
                min_size=1,
                max_size=6,
            )
        )
    else:
        frames = draw(st.one_of(st.lists(frame(names), max_size=6), values))
    doc: Any = {"frames": frames}
    roll = draw(st.integers(0, 30))
    if roll == 0:
        doc = frames
    elif roll == 1:
        doc["other"] = 1
    elif roll == 2:
        doc = {}
    return json.dumps(doc, allow_nan=False).encode()  # json, not orjson: integers beyond 64 bits too


@settings(max_examples=1500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_typed_answers_as_the_general_way_or_hands_over(data: st.DataObject) -> None:
    kind = data.draw(st.sampled_from(["mixed", "doubles"]))
    check(data.draw(body(MIXED if kind == "mixed" else DOUBLES)), kind)


@pytest.mark.parametrize(
    "raw",
    [
        b'{"frames":[{"timestamp":1718884800000,"metrics":{"m0":1,"m0":2.5}}]}',  # duplicate key: the last
        b'{"frames":[{"timestamp":1,"timestamp":1718884800000,"metrics":{"m0":1}}]}',
        b'{"frames":[{"timestamp":1718884800000,"metrics":{"m0":1}}],"frames":[]}',
        b'{"frames":[{"timestamp":1718884800000,"metrics":{"m0":-0}}]}',
        b'{"frames":[{"timestamp":1718884800000,"metrics":{"m0":-0.0,"m1":1e-400,"m2":1.7976931348623157e308}}]}',
        b'{"frames":[{"timestamp":1718884800000,"metrics":{"m0":1e400}}]}',
        b'{"frames":[{"timestamp":1718884800000,"metrics":{"m0":123456789012345678901234567890}}]}',
        b'{"frames":[{"timestamp":1718884800000,"metrics":{"m0":18446744073709551615}}]}',
        b'{"frames":[{"timestamp":1718884800000,"metrics":{"m0":NaN}}]}',
        b' \n{"frames":[{"timestamp":1718884800000,"metrics":{"m0":1}}]} \n',
        b'{"frames":[{"timestamp":1718884800000,"metrics":{"m0":1}}]} x',
        b'\xef\xbb\xbf{"frames":[{"timestamp":1718884800000,"metrics":{"m0":1}}]}',
        b'{"frames":[{"timestamp":1718884800000.0,"metrics":{"m0":1}}]}',
        b'{"frames":[{"timestamp":1718884800000,"metrics":{"m\\u0030":1}}]}',  # an escaped name
        b'{"frames":[{"timestamp":1718884800000,"metrics":{}}]}',
        b'{"frames":[]}',
        b"{}",
        b"[]",
        b"",
    ],
)
def test_edge_bodies(raw: bytes) -> None:
    check(raw, "doubles")


@pytest.mark.parametrize(
    "raw",
    [
        b'{"frames":[{"timestamp":1718884800000,"metrics":{"firmware":"\\ud800"}}]}',  # a lone surrogate
        b'{"frames":[{"timestamp":1718884800000,"metrics":{"firmware":"\xff"}}]}',  # not UTF-8
        b'{"frames":[{"timestamp":1718884800000,"metrics":{"firmware":"a\\u0000"}}]}',
        b'{"frames":[{"timestamp":1718884800000,"metrics":{"firmware":""}}]}',
        b'{"frames":[{"timestamp":1718884800000,"metrics":{"count":9223372036854775808}}]}',
        b'{"frames":[{"timestamp":1718884800000,"metrics":{"count":3.0,"soc":1}}]}',
        b'{"frames":[{"timestamp":1718884800000,"metrics":{"online":1}}]}',
        b'{"frames":[{"timestamp":1718884800000,"metrics":{"soc":1,"count":2}}]}',
    ],
)
def test_edge_bodies_of_mixed_types(raw: bytes) -> None:
    check(raw, "mixed")


def test_the_usual_bodies_take_the_typed_way() -> None:
    """Not a vacuous equivalence: dense and sparse frames, repeated timestamps, every checked type."""
    doubles = [{"timestamp": T0 + i, "metrics": {f"m{j}": 10.0 + i + j for j in range(4)}} for i in range(50)]
    sparse = [{"timestamp": T0, "metrics": {"m2": 1}}, {"timestamp": T0 + 1, "metrics": {"m0": 2.0, "m3": 3.5}}]
    merged = [{"timestamp": T0, "metrics": {"m0": 1.0}}, {"timestamp": T0, "metrics": {"m0": 2.0, "m1": 3.0}}]
    for frames in (doubles, sparse, merged):
        assert check(orjson.dumps({"frames": frames}), "doubles") is not None
    mixed = [{"timestamp": T0, "metrics": {"online": True, "count": 3, "firmware": "1.2", "soc": 50.5}}]
    assert check(orjson.dumps({"frames": mixed}), "mixed") is not None
    (rows, _, _, seen), count = TYPED["doubles"].accept(orjson.dumps({"frames": merged}), MAX_TIME) or ((), 0)
    assert rows == [(T0, {"m0": 2.0, "m1": 3.0})] and seen == ["m0", "m1"] and count == 2


def test_what_needs_coercing_or_checking_per_value_takes_the_general_way() -> None:
    hand_over = [
        {"soc": 1},  # an integer for a Double among other types: coerced to 1.0 the general way
        {"SOC": 1.0},  # another spelling
        {"bounded": 5.0},  # a valid range
        {"status": 1},  # enum values
        {"blob": {"a": 1}},  # Json
    ]
    for metrics in hand_over:
        assert typed(orjson.dumps({"frames": [{"timestamp": T0, "metrics": metrics}]}), "mixed") is None, metrics
    late = orjson.dumps({"frames": [{"timestamp": MAX_TIME + 1, "metrics": {"m0": 1.0}}]})
    assert typed(late, "doubles") is None
    too_many = orjson.dumps({"frames": [{"timestamp": T0, "metrics": {"m0": 1.0}}] * (MAX_FRAMES + 1)})
    assert typed(too_many, "doubles") is None
