"""Frames ingest (``POST /v2/thing/{thingId}/data``): validate, coerce, map names to ids, and
durably enqueue ONE accepted batch. Nothing is enqueued unless every frame is valid.

This is the hottest path of the platform. A body is first decoded by msgspec straight into
typed frames (:class:`_Typed`: structure, metric names and value types checked in C while
parsing); only if that refuses it, or a value needs coercing, does it go the general way:
orjson, then the loop in :func:`_validate`, which avoids per-value function calls for values that
already have their metric's JSON type and says what is wrong. Both build the columnar queue
message (:class:`SeriesRows`) directly instead of an object per reading, and give the same
result for any body the typed decoder accepts (tests/unit/test_ingest_typed.py).
"""

from __future__ import annotations

import functools
import operator
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from itertools import repeat
from operator import itemgetter
from typing import Annotated, Any, Literal

from telemetry.body import check_size, load_json
from telemetry.clock import latest_accepted_ms
from telemetry.errors import FieldError, PayloadTooLarge, ValidationFailed
from telemetry.limits import INGEST_MAX_BODY_BYTES, INGEST_MAX_FRAMES
from telemetry.limits import MAX_FUTURE_MS as MAX_FUTURE_MS
from telemetry.models.metrics import CoercionError, DataType, MetricDefinition, coerce_value
from telemetry.models.principal import Principal
from telemetry.models.readings import AcceptedBatch, SeriesKind, SeriesRows
from telemetry.models.types import INT64_MAX, INT64_MIN, name_key
from telemetry.ports.readings import ReadingQueue
from telemetry.services.authn import require
from telemetry.services.thing_context import MAX_CACHED_CONTEXTS, ThingContext, ThingContextResolver

MAX_BODY_BYTES = INGEST_MAX_BODY_BYTES
MAX_FRAMES = INGEST_MAX_FRAMES
MAX_ERRORS_REPORTED = 100
#: 1970-01-01 .. 9999-12-31
MIN_TIMESTAMP_MS, MAX_TIMESTAMP_MS = 0, 253_402_300_799_999

_FAST_TYPE: dict[DataType, type] = {
    DataType.Double: float,
    DataType.Int: int,
    DataType.Bool: bool,
    # no String: a str may be the empty string, which coerce_value refuses
}


@dataclass(frozen=True, slots=True)
class IngestResult:
    thingId: str
    framesIngested: int
    metrics: list[str]


def accept_version() -> int:
    """The version of everything accepted now: microseconds, so a later upsert always wins."""
    return time.time_ns() // 1000


def new_batch_id() -> str:
    return uuid.uuid4().hex


@dataclass(frozen=True, slots=True)
class _Plan:
    metric: MetricDefinition
    #: the Python type a JSON value may already have to be taken as-is (None: always coerce)
    fast: type | None


def _plans(ctx: ThingContext) -> dict[str, _Plan]:
    plans: dict[str, _Plan] = {}
    for key, metric in ctx.by_name.items():
        fast = None if (metric.validRange or metric.enumValues) else _FAST_TYPE.get(metric.dataType)
        plans[key] = _Plan(metric, fast)
    return plans


class FrameIngest:
    def __init__(self, contexts: ThingContextResolver, queue: ReadingQueue) -> None:
        self.contexts = contexts
        self.queue = queue
        #: thing id -> (the context the plans were made for, plans, typed decoder); replaced when the context is
        self._plan_cache: dict[str, tuple[ThingContext, dict[str, _Plan], _Typed | None]] = {}
        self._plan_lock = threading.Lock()

    def ingest(self, principal: Principal, thing_id: str, body: bytes | str) -> IngestResult:
        require(principal, "data:write")
        check_size(body, MAX_BODY_BYTES)
        ctx = self.contexts.resolve(principal, thing_id)
        cached = self._plan_cache.get(ctx.thing.id)
        if cached is not None and cached[0] is ctx:
            plans, typed = cached[1], cached[2]
        else:
            plans = _plans(ctx)
            typed = _typed(plans)
            with self._plan_lock:  # eviction iterates: unguarded, racing requests raised KeyError/RuntimeError
                self._plan_cache.pop(ctx.thing.id, None)
                self._plan_cache[ctx.thing.id] = (ctx, plans, typed)
                while len(self._plan_cache) > MAX_CACHED_CONTEXTS:
                    del self._plan_cache[next(iter(self._plan_cache))]
        max_time = latest_accepted_ms()
        accepted = typed.accept(body, max_time) if typed is not None else None
        if accepted is None:  # refused or needs coercion: the general way, which says what is wrong
            frames = _frames(load_json(body, MAX_BODY_BYTES))
            accepted = _validate(frames, plans, max_time), len(frames)
        (rows, types, ids, seen), count = accepted
        batch = AcceptedBatch(
            new_batch_id(),
            principal.org_id,
            groups=[SeriesRows(SeriesKind.THING, ctx.thing.id, accept_version(), types, rows, ids=ids or None)],
        )
        self.queue.enqueue(batch)
        return IngestResult(thingId=ctx.thing.id, framesIngested=count, metrics=seen)


_first = itemgetter(0)
_second = itemgetter(1)
_NONE = type(None)

Rows = list[tuple[int, dict[str, Any]]]
#: rows, types, ids and the metric names seen (``_validate``'s answer)
Validated = tuple[Rows, dict[str, DataType], dict[str, str], list[str]]


@dataclass(frozen=True, slots=True)
class _Typed:
    """A msgspec decoder of the frames body of one thing type, for the bodies :func:`_validate`
    would take as they are: the structure, the exact metric names (each spelled as defined) and
    the value types are checked in C while parsing, so no Python code runs per value.

    It refuses (``accept`` answers None) whatever the general way might have to coerce or refuse,
    and then that way runs from the start: every refusal is made, and worded, as before. Metrics
    with a valid range or enum values are not in it (the general way checks those per value), nor
    Json ones (msgspec keeps integers beyond 64 bits exact, orjson reads them as floats).
    """

    decoder: Any  # msgspec.json.Decoder of the body struct
    #: what the decoder raises on a body it refuses (msgspec.MsgspecError)
    refused: type[Exception]
    #: exact metric name -> (definition, the Python type each of its values must have)
    metrics: dict[str, tuple[MetricDefinition, type]]
    #: several value types: the decoder takes any of them for any name, ``accept`` checks per name
    mixed: bool
    #: msgspec.structs.astuple: a decoded frame as (timestamp, metrics), the row itself
    astuple: Callable[[Any], tuple[Any, ...]]

    def accept(self, body: bytes | str, max_time: int) -> tuple[Validated, int] | None:
        """``_validate``'s answer and the frame count, or None: take the general way."""
        try:
            doc = self.decoder.decode(body)
        except self.refused:
            return None
        rows: Rows = list(map(self.astuple, doc.frames))
        times = list(map(_first, rows))
        if max(times) > max_time:
            return None
        metrics = self.metrics
        names = dict.fromkeys(rows[0][1])  # first-seen order, as the general way lists them
        if len(names) < len(metrics):
            for _, values in rows:
                names.update(values)
                if len(names) == len(metrics):
                    break
        if self.mixed:
            columns = list(map(_second, rows))
            for name in names:
                found = set(map(type, map(dict.get, columns, repeat(name))))
                found.discard(_NONE)  # frames without the metric
                if found != {metrics[name][1]}:
                    return None  # e.g. an integer for a Double: coerced the general way
        count = len(rows)
        if len(set(times)) < count:
            rows = _merged(rows)
        types = {name: metrics[name][0].dataType for name in names}
        ids = {name: metrics[name][0].id for name in names}
        return (rows, types, ids, list(names)), count


def _merged(rows: Rows) -> Rows:
    """Frames with the same timestamp as one reading, later values winning (as ``_validate`` does)."""
    by_time: dict[int, dict[str, Any]] = {}
    merged = []
    for ts, values in rows:
        previous = by_time.get(ts)
        if previous is None:
            by_time[ts] = values
            merged.append((ts, values))
        else:
            previous.update(values)
    return merged


#: metric definitions (what a typed decoder depends on) -> its decoder; shared by the things of a
#: type and kept across context refreshes (every ThingContextResolver TTL), since building one
#: (two struct types and a decoder) costs ~0.5 ms
_TYPED_CACHE: dict[tuple[tuple[str, str, DataType, bool], ...], _Typed | None] = {}
_TYPED_LOCK = threading.Lock()


def _typed(plans: dict[str, _Plan]) -> _Typed | None:
    """The typed decoder of these plans' metrics, built once per set of definitions."""
    key = tuple(
        (p.metric.id, p.metric.name, p.metric.dataType, bool(p.metric.validRange or p.metric.enumValues))
        for p in plans.values()
    )
    typed = _TYPED_CACHE.get(key, _MISS)  # one lookup: another thread may evict between two
    if typed is not _MISS:
        return typed  # type: ignore[no-any-return]
    typed = _build_typed(plans)
    with _TYPED_LOCK:
        _TYPED_CACHE[key] = typed
        while len(_TYPED_CACHE) > MAX_CACHED_CONTEXTS:
            _TYPED_CACHE.pop(next(iter(_TYPED_CACHE)), None)
    return typed


def _build_typed(plans: dict[str, _Plan]) -> _Typed | None:
    """The typed decoder of a thing type's metrics (None if none can be checked by type alone).

    msgspec is imported here, on the first request for a thing, not when the function module is:
    the cold import stays without it.
    """
    import msgspec

    meta = msgspec.Meta
    #: data type -> (the msgspec type of a value taken as-is, its Python type). A Double alone
    #: takes JSON integers too and makes them floats, as coerce_value does; among other types an
    #: integer stays an int and ``accept`` hands the body to the general way.
    kinds: dict[DataType, tuple[Any, type]] = {
        DataType.Double: (float, float),
        DataType.Int: (Annotated[int, meta(ge=INT64_MIN, le=INT64_MAX)], int),
        DataType.Bool: (bool, bool),
        DataType.String: (Annotated[str, meta(min_length=1)], str),  # coerce_value refuses ""
    }
    metrics: dict[str, tuple[MetricDefinition, type]] = {}
    value_types: dict[type, Any] = {}
    for plan in plans.values():
        metric = plan.metric
        kind = None if (metric.validRange or metric.enumValues) else kinds.get(metric.dataType)
        if kind is not None:
            metrics[metric.name] = (metric, kind[1])
            value_types[kind[1]] = kind[0]
    if not metrics:
        return None
    value: Any = functools.reduce(operator.or_, value_types.values())
    names: Any = Literal[tuple(metrics)]
    frame: Any = msgspec.defstruct(
        "Frame",
        [
            ("timestamp", Annotated[int, meta(ge=MIN_TIMESTAMP_MS)]),
            ("metrics", Annotated[dict[names, value], meta(min_length=1)]),
        ],
        forbid_unknown_fields=True,
        gc=False,  # a timestamp and a dict of scalars cannot form a cycle: 1,000 fewer tracked objects
    )
    body = msgspec.defstruct(
        "Frames",
        [("frames", Annotated[list[frame], meta(min_length=1, max_length=MAX_FRAMES)])],
        forbid_unknown_fields=True,
        gc=False,
    )
    return _Typed(
        msgspec.json.Decoder(body), msgspec.MsgspecError, metrics, len(value_types) > 1, msgspec.structs.astuple
    )


def _frames(doc: Any) -> list[Any]:
    if not isinstance(doc, dict):
        raise ValidationFailed.single([], "the body must be a JSON object with a 'frames' array")
    unknown = [k for k in doc if k != "frames"]
    if unknown:
        raise ValidationFailed([FieldError((k,), "is not a known field") for k in unknown])
    frames = doc.get("frames")
    if not isinstance(frames, list):
        raise ValidationFailed.single(["frames"], "is required and must be an array")
    if not frames:
        raise ValidationFailed.single(["frames"], "must contain at least one frame")
    if len(frames) > MAX_FRAMES:
        raise PayloadTooLarge(f"at most {MAX_FRAMES} frames per request; send {len(frames)} in several requests")
    return frames


_MISS: Any = object()


def _validate(frames: list[Any], plans: dict[str, _Plan], max_time: int) -> Validated:
    """Validate every frame, coercing in place; return rows keyed by the names as sent.

    Rows reuse each frame's own ``metrics`` dict (no copy): values that already have their
    metric's JSON type are left alone, others are coerced in place. ``ids`` maps each spelling
    seen to its metric id, for the writer.
    """
    errors: list[FieldError] = []
    rows: list[tuple[int, dict[str, Any]]] = []
    by_time: dict[int, dict[str, Any]] = {}
    types: dict[str, DataType] = {}
    ids: dict[str, str] = {}
    seen: dict[str, None] = {}
    #: exact spelling -> (metric id, type taken as-is, definition), or None if unknown
    exact: dict[str, tuple[str, type | None, MetricDefinition] | None] = {}
    get = exact.get
    #: true once two spellings of one metric were seen: only then can a frame hold a duplicate
    variants = False
    for i, frame in enumerate(frames):
        if type(frame) is not dict:
            errors.append(FieldError(("frames", i), "must be an object with timestamp and metrics"))
            continue
        ts = frame.get("timestamp")
        metrics = frame.get("metrics")
        if len(frame) != 2:
            errors.extend(
                FieldError(("frames", i, k), "is not a known field") for k in frame if k not in ("timestamp", "metrics")
            )
        if type(ts) is not int:
            errors.append(
                FieldError(("frames", i, "timestamp"), "is required: Unix epoch milliseconds (UTC), an integer")
            )
        elif not MIN_TIMESTAMP_MS <= ts <= max_time:
            errors.append(
                FieldError(("frames", i, "timestamp"), "is out of range: epoch milliseconds, not in the future")
            )
        if type(metrics) is not dict or not metrics:
            errors.append(FieldError(("frames", i, "metrics"), "must be an object with at least one metric"))
            continue
        for name, raw in metrics.items():
            entry = get(name, _MISS)
            if entry is _MISS:
                plan = plans.get(name_key(name))
                entry = exact[name] = (plan.metric.id, plan.fast, plan.metric) if plan else None
                if plan:
                    variants = variants or plan.metric.id in ids.values()
                    ids[name] = plan.metric.id
                    types[name] = plan.metric.dataType
                    seen[plan.metric.name] = None
            if entry is None:
                errors.append(FieldError(("frames", i, "metrics", name), "is not a metric of the thing's type"))
            elif type(raw) is not entry[1] or (entry[1] is int and not INT64_MIN <= raw <= INT64_MAX):
                try:
                    metrics[name] = coerce_value(entry[2], raw)
                except CoercionError as exc:
                    errors.append(FieldError(("frames", i, "metrics", name), str(exc)))
        if variants:
            errors.extend(_duplicates(i, metrics, exact))
        if errors:
            if len(errors) >= MAX_ERRORS_REPORTED:
                break
            continue
        previous = by_time.get(ts)  # type: ignore[arg-type]
        if previous is None:
            by_time[ts] = metrics  # type: ignore[index]
            rows.append((ts, metrics))  # type: ignore[arg-type]
        else:  # two frames with the same timestamp: one reading, later values win
            previous.update(metrics)
    if errors:
        raise ValidationFailed(errors[:MAX_ERRORS_REPORTED], detail=_summary(errors))
    if variants:  # the same metric under two spellings in one reading (frames merged by timestamp)
        rows = [(ts, _by_id(values, ids)) for ts, values in rows]
        types = {ids[n]: t for n, t in types.items()}
        ids = {}
    return rows, types, ids, list(seen)


def _duplicates(
    i: int, metrics: dict[str, Any], exact: dict[str, tuple[str, type | None, MetricDefinition] | None]
) -> list[FieldError]:
    """Names that map to a metric already given in the frame (``soc`` and ``SOC``)."""
    taken: set[str] = set()
    found = []
    for name in metrics:
        entry = exact.get(name)
        if entry is None:
            continue
        if entry[0] in taken:
            found.append(FieldError(("frames", i, "metrics", name), "is given twice (names are case-insensitive)"))
        taken.add(entry[0])
    return found


def _by_id(values: dict[str, Any], ids: dict[str, str]) -> dict[str, Any]:
    return {ids[name]: value for name, value in values.items()}


def _summary(errors: list[FieldError]) -> str:
    first = errors[0]
    more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
    return f"{'/'.join(map(str, first.path))}: {first.message}{more}; nothing was ingested"
