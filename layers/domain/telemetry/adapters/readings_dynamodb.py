"""ReadingStore on one DynamoDB table (``pk`` S, ``sk`` S, no indexes).

Item layout
-----------
``pk = {org}#{kind}#{series}`` (``%`` and ``#`` in org/series are percent-encoded, so two tenants'
keys can never collide and every key starts with the organization).

* one **time item** per (series, time, version): ``sk = T#{time:015d}#{version:020d}``
  with ``t`` (N, epoch ms), ``v`` (N, version), ``m`` (M: measure name -> ``{"t": type, "v": value}``)
  and ``d`` (M of S, custom dimensions; omitted when empty);
* no separate latest item: the latest row is the merge of the items of the greatest time, read
  with one descending Query (see "Per-metric upserts" below). Tables written by earlier releases
  hold a ``sk = LATEST`` item per series; it sorts after every ``T#`` key, so no query reads it;
* **rollup items** (issue 11): ``sk = M#{minute}#{fingerprint}``, ``H#{hour}``, ``D#{day}`` with
  ``n`` (N, the fingerprint) and ``s`` (M: metric -> summary); they sort before ``T#``. See
  ``refresh_rollups`` and docs/performance.md, "Rollups". With a retention
  (``retention_days``) time items carry ``x``, the table's TTL attribute; rollup items never do.

Measures are stored typed with the low-level client, so no ``Decimal`` is involved: Int is ``N``
from ``str(int)`` and reads back with ``int()``; Double is ``N`` from ``repr(float)`` (the shortest
text that round-trips, well inside DynamoDB's 38 digits) and reads back with ``float()``, except
magnitudes outside DynamoDB's number range (below 1e-130, 1e126 and above) which are kept as
``S`` of ``repr``; Bool is ``BOOL``; String is ``S``; Json is ``S`` holding JSON text.

Why the version is part of the sort key (version upserts with BatchWriteItem)
-----------------------------------------------------------------------------
BatchWriteItem (25 puts per call) cannot carry a condition, so with ``sk = T#{time}`` a late,
LOWER version (an older message redelivered after a newer one for the same series and time;
SQS standard queues do not order) would silently overwrite the higher one. Conditional PutItem
fixes that at one call per record (25x the calls); TransactWriteItems (100 conditional puts)
costs twice the write capacity, cancels the whole transaction on one failed condition, and
conflicts with concurrent transactions on the same items.

Instead each version gets its own item and readers merge the versions of a time. Then:

* a redelivery (same version, hence the same key and the same content) rewrites an identical
  item: idempotent;
* a higher version adds an item whose measures win on every read: "replaces" (per measure);
* a lower version adds an item whose measures lose on every read: it never overwrites, whatever the
  order or concurrency of writers, with no condition and no read-before-write.

Per-metric upserts
------------------
"Wins" is per measure, not per item: a reader merges every version of one time with
:func:`telemetry.adapters.reading_rules.merge_versions`, so each measure (and dimension) shows
the value of the highest version that carries it. A device that sends its state of charge and,
a moment later, its temperature for the same instant keeps both; a later state of charge
replaces only the state of charge. The merge is a pure function of the set of stored items, so
redelivery and reordering give the same row. ``latest``, ``history`` and ``aggregate`` all read
through the same merge; history pages end on a time boundary (the cursor is the last ``sk`` of
a time), so one time's versions are never split across pages.

The costs, honestly: an item whose every measure is superseded stays in the table (a storage
cost only when a client resends the same metrics for a time; a compaction job could reclaim
it: an item is dead once each of its measures has a higher version at its time), and readers
read and drop it. An item of a per-metric upsert is not dead: it holds the only value of its
metrics, and a reader reads both items of that time. The time items take
``ceil(n / 25)`` BatchWriteItem calls (UnprocessedItems are retried with exponential backoff and
jitter), no latest item to move (a per-metric merge cannot be expressed as one conditional put;
see docs/performance.md, "Per-metric upserts"); the rollups then cost a bounded number of calls
per touched bucket ("Rollups" there). Dead items of the touched minutes are deleted (compaction).

Failures: throttling that outlasts botocore's retries, a missing table, connection errors and
any other ClientError/BotoCoreError become :class:`telemetry.errors.Unavailable`. A
ValidationException on a batch (e.g. an item over 400 KB slipped past the size estimate) is
narrowed down by writing that batch's items one per call; the item DynamoDB still refuses is
returned as a non-retryable rejection. UnprocessedItems left after the retries are returned as
retryable rejections.

Cursors are the base64 of the last consumed ``sk``; the ``pk`` is rebuilt from the caller's org,
so a tampered cursor cannot leave the caller's series, and a malformed one is a
``ValidationFailed`` on ``continuationToken``.
"""

from __future__ import annotations

import random
import re
import time as _time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from fractions import Fraction
from typing import TYPE_CHECKING, Any

import orjson

from telemetry.adapters.aws_clients import CLIENT_LOCK, aws_client
from telemetry.adapters.reading_rules import (
    DAY_MS,
    HOUR_MS,
    MAX_TIME,
    MINUTE_MS,
    Buckets,
    Summary,
    aggregate_rows,
    check_interval,
    check_limit,
    compute_aggregates,
    decode_cursor,
    encode_cursor,
    fold_into,
    merge_versions,
    project,
    record_problem,
    rollup_plan,
    summarize,
)
from telemetry.errors import Unavailable, ValidationFailed
from telemetry.models.readings import AggregateRow, Measure, Record, RejectedRecord, SeriesKind
from telemetry.models.types import Aggregation, DataType

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

Item = dict[str, Any]

#: items per latest-Query page: one time rarely holds more versions than this
_LATEST_PAGE = 8
MAX_ITEM_BYTES = 400 * 1024
_CURSOR = re.compile(r"T#\d{15}#\d{20}")
_DYNAMO_NUMBER_MIN, _DYNAMO_NUMBER_MAX = 1e-130, 1e126


def _escape(part: str) -> str:
    return part.replace("%", "%25").replace("#", "%23")


def series_pk(org_id: str, kind: SeriesKind, series_id: str) -> str:
    return f"{_escape(org_id)}#{kind.value}#{_escape(series_id)}"


def time_sk(time: int, version: int) -> str:
    return f"T#{time:015d}#{version:020d}"


def _encode_value(measure: Measure) -> dict[str, Any]:
    value, dtype = measure.value, measure.type
    if dtype is DataType.Double:
        number = float(value)
        if number == 0 or _DYNAMO_NUMBER_MIN <= abs(number) < _DYNAMO_NUMBER_MAX:
            return {"N": repr(number)}
        return {"S": repr(number)}
    if dtype is DataType.Int:
        return {"N": str(int(value))}
    if dtype is DataType.Bool:
        return {"BOOL": bool(value)}
    if dtype is DataType.String:
        return {"S": value}
    return {"S": orjson.dumps(value).decode()}


def _decode_value(dtype: DataType, raw: Mapping[str, Any]) -> Any:
    if dtype is DataType.Double:
        return float(raw["N"] if "N" in raw else raw["S"])
    if dtype is DataType.Int:
        return int(raw["N"])
    if dtype is DataType.Bool:
        return bool(raw["BOOL"])
    if dtype is DataType.String:
        return raw["S"]
    return orjson.loads(raw["S"])


def _attributes(record: Record) -> Item:
    item: Item = {
        "t": {"N": str(record.time)},
        "v": {"N": str(record.version)},
        "m": {
            "M": {name: {"M": {"t": {"S": m.type.value}, "v": _encode_value(m)}} for name, m in record.measures.items()}
        },
    }
    if record.dimensions:
        item["d"] = {"M": {k: {"S": v} for k, v in record.dimensions.items()}}
    return item


def _record(org_id: str, kind: SeriesKind, series_id: str, item: Mapping[str, Any]) -> Record:
    measures: dict[str, Measure] = {}
    for name, raw in item["m"]["M"].items():
        dtype = DataType(raw["M"]["t"]["S"])
        measures[name] = Measure(dtype, _decode_value(dtype, raw["M"]["v"]))
    dims = {k: v["S"] for k, v in item.get("d", {}).get("M", {}).items()}
    return Record(
        org_id=org_id,
        kind=kind,
        series_id=series_id,
        time=int(item["t"]["N"]),
        measures=measures,
        version=int(item["v"]["N"]),
        dimensions=dims,
    )


def _value_size(value: Mapping[str, Any]) -> int:
    """DynamoDB's size rules, slightly pessimistic (numbers: about one byte per two digits)."""
    ((kind, content),) = value.items()
    if kind == "S":
        return len(content.encode())
    if kind == "N":
        return len(content) // 2 + 2
    if kind == "M":
        return 3 + sum(len(k.encode()) + _value_size(v) + 1 for k, v in content.items())
    return 1


def item_size(item: Mapping[str, Any]) -> int:
    return sum(len(name.encode()) + _value_size(value) for name, value in item.items())


# --- rollup items -----------------------------------------------------------------------------

#: sort-key prefix of each rollup grain; all sort before ``T#`` (the time items)
_GRAIN_PREFIX = {MINUTE_MS: "M", HOUR_MS: "H", DAY_MS: "D"}
#: the grain each grain is recomputed from (``None``: the raw time items)
_FINER = {MINUTE_MS: None, HOUR_MS: MINUTE_MS, DAY_MS: HOUR_MS}


def rollup_sk(grain: int, bucket: int, seen: int) -> str:
    """Minute items carry the fingerprint they were computed from (see ``refresh_rollups``)."""
    prefix = _GRAIN_PREFIX[grain]
    return f"{prefix}#{bucket:015d}#{seen:025d}" if grain == MINUTE_MS else f"{prefix}#{bucket:015d}"


def fingerprint(raw: Sequence[Item]) -> tuple[int, list[Item]]:
    """The fingerprint of the time items of one bucket, and those of them that are dead.

    Fingerprint: the sum, over every (time, measure), of its winning version + 1. A write that
    changes a stored value raises it (a new measure adds at least 1, a higher version raises a
    winner); a redelivery, a lower version and the removal of a dead item leave it unchanged.
    So of two consistent reads of the same bucket, the later one's fingerprint is >= the
    earlier's, and equal only if every winner, hence every summary, is the same.

    Dead: an item whose every measure and dimension has a higher version at its time; no read
    can ever show its values, so it can be deleted (compaction) without changing any row.
    """
    winners: dict[tuple[str, str, str], int] = {}
    for item in raw:
        version, time = int(item["v"]["N"]), item["t"]["N"]
        for part in ("m", "d"):
            for name in item.get(part, {}).get("M", {}):
                key = (time, part, name)
                winners[key] = max(winners.get(key, -1), version)
    seen = sum(v + 1 for (_, part, _), v in winners.items() if part == "m")
    dead = [
        item
        for item in raw
        if all(
            winners[(item["t"]["N"], part, name)] > int(item["v"]["N"])
            for part in ("m", "d")
            for name in item.get(part, {}).get("M", {})
        )
    ]
    return seen, dead


def _encode_measure(measure: Measure) -> Item:
    return {"M": {"t": {"S": measure.type.value}, "v": _encode_value(measure)}}


def _decode_measure(raw: Mapping[str, Any]) -> Measure:
    dtype = DataType(raw["M"]["t"]["S"])
    return Measure(dtype, _decode_value(dtype, raw["M"]["v"]))


def _encode_summary(summary: Summary) -> Item:
    out: Item = {
        "c": {"N": str(summary.count)},
        "k": {"N": str(summary.numeric)},
        "i": {"BOOL": summary.all_int},
        "ft": {"N": str(summary.first_time)},
        "f": _encode_measure(summary.first),
        "lt": {"N": str(summary.last_time)},
        "l": _encode_measure(summary.last),
    }
    if summary.numeric and summary.low is not None and summary.high is not None:
        out["u"] = {"S": str(summary.total)}  # exact: "numerator/denominator"
        out["lo"] = _encode_measure(summary.low)
        out["hi"] = _encode_measure(summary.high)
    return {"M": out}


def _decode_summary(raw: Mapping[str, Any]) -> Summary:
    m = raw["M"]
    return Summary(
        count=int(m["c"]["N"]),
        numeric=int(m["k"]["N"]),
        total=Fraction(m["u"]["S"]) if "u" in m else Fraction(0),
        all_int=bool(m["i"]["BOOL"]),
        low=_decode_measure(m["lo"]) if "lo" in m else None,
        high=_decode_measure(m["hi"]) if "hi" in m else None,
        first_time=int(m["ft"]["N"]),
        first=_decode_measure(m["f"]),
        last_time=int(m["lt"]["N"]),
        last=_decode_measure(m["l"]),
    )


def _bucket_of(sk: str) -> int:
    return int(sk[2:17])


def _spans(buckets: Iterable[int], grain: int, max_gap: int) -> list[tuple[int, int]]:
    """Sorted ``[lo, hi)`` ranges covering the buckets, split where two are more than ``max_gap`` apart."""
    spans: list[tuple[int, int]] = []
    for bucket in sorted(set(buckets)):
        if spans and bucket - spans[-1][1] <= max_gap:
            spans[-1] = (spans[-1][0], bucket + grain)
        else:
            spans.append((bucket, bucket + grain))
    return spans


def _error_code(exc: Exception) -> str:
    response = getattr(exc, "response", None) or {}
    return str(response.get("Error", {}).get("Code", type(exc).__name__))


class _Entry:
    """One distinct item to put, and the indexes (in the caller's list) of the records it carries."""

    __slots__ = ("indexes", "item")

    def __init__(self, index: int, item: Item) -> None:
        self.indexes = [index]
        self.item = item


class DynamoDbReadingStore:
    max_batch_size = 25

    def __init__(
        self,
        table_name: str,
        client: DynamoDBClient | None = None,
        *,
        max_attempts: int = 8,
        base_delay: float = 0.05,
        sleep: Callable[[float], None] = _time.sleep,
        rollups: bool = True,
        compact: bool = True,
        retention_days: Mapping[str, float] | None = None,
        now: Callable[[], float] = _time.time,
    ) -> None:
        self.table_name = table_name
        self.retention_days = dict(retention_days or {})
        self._now = now
        self.rollups = rollups
        self.compact = rollups and compact
        self._client = client
        self._max_attempts = max_attempts
        self._base_delay = base_delay
        self._sleep = sleep

    @property
    def client(self) -> DynamoDBClient:
        if self._client is None:
            from botocore.config import Config

            with CLIENT_LOCK:
                if self._client is None:
                    config = Config(retries={"mode": "standard", "max_attempts": 5})
                    self._client = aws_client("dynamodb", config=config)
        return self._client

    def _call(self, operation: str, passthrough: tuple[str, ...] = (), **kwargs: Any) -> Any:
        """Call the client; SDK failures become Unavailable, except error codes in ``passthrough``."""
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            return getattr(self.client, operation)(**kwargs)
        except ClientError as exc:
            code = _error_code(exc)
            if code in passthrough:
                raise
            raise Unavailable(f"DynamoDB {operation} failed: {code}") from exc
        except BotoCoreError as exc:
            raise Unavailable(f"DynamoDB {operation} failed: {type(exc).__name__}") from exc

    # --- writes -------------------------------------------------------------------------------

    def write(self, records: Sequence[Record], *, rollups: bool = True) -> list[RejectedRecord]:
        rejected: list[RejectedRecord] = []
        entries: dict[tuple[str, str], _Entry] = {}
        for index, record in enumerate(records):
            problem = record_problem(record)
            if problem is None:
                item = {
                    "pk": {"S": series_pk(record.org_id, record.kind, record.series_id)},
                    "sk": {"S": time_sk(record.time, record.version)},
                    **_attributes(record),
                }
                days = self._retention(record.org_id)
                if days is not None:
                    expires = record.time // 1000 + int(days * 86_400)
                    if expires < self._now() + 60:
                        problem = f"time is older than the organization's retention of {days:g} days"
                    item["x"] = {"N": str(expires)}  # the table's TTL attribute; rollup items have none
                if problem is None and item_size(item) > MAX_ITEM_BYTES:
                    problem = "record is larger than DynamoDB's 400 KB item limit"
            if problem:
                rejected.append(RejectedRecord(index, problem, retryable=False))
                continue
            key = (item["pk"]["S"], item["sk"]["S"])
            if key in entries:  # same series, time and version: the same record twice in one call
                entries[key].indexes.append(index)
            else:
                entries[key] = _Entry(index, item)
        pending = list(entries.values())
        for start in range(0, len(pending), self.max_batch_size):
            rejected.extend(self._put_batch(pending[start : start + self.max_batch_size]))
        if rollups:
            refused = {r.index for r in rejected}
            self.refresh_rollups([r for i, r in enumerate(records) if i not in refused])
        return sorted(rejected, key=lambda r: r.index)

    def _retention(self, org_id: str) -> float | None:
        return self.retention_days.get(org_id, self.retention_days.get("*"))

    # --- rollups ------------------------------------------------------------------------------

    def refresh_rollups(self, records: Sequence[Record]) -> None:
        """Recompute every minute, hour and day bucket the stored ``records`` touched.

        Each bucket is recomputed from what is stored beneath it (never adjusted by deltas), so a
        replaced value is counted once and a redelivery recomputes the same summary. Concurrent
        writers are ordered by a monotone fingerprint, ``n`` (:func:`fingerprint`: a later
        consistent read of a bucket never has a smaller one, and an equal one means the same
        values):

        * minute: the raw items of the touched minutes (one consistent Query per span of touched
          minutes; the dead ones among them are deleted: compaction, bounded to what the write
          touched); the summary is written with BatchWriteItem under ``sk = M#{minute}#{n}``, so a
          stale writer adds an item with a smaller ``n`` that loses on every read (the raw
          layer's trick: no condition needed); the hour step deletes such items;
        * hour: the minute items of the touched hours (the greatest ``n`` of each minute), put
          with ``n`` = the sum of the minutes' ``n`` on the condition ``n < :n``; day: the same
          from the hours. Both run on every write of their buckets, so a write that failed
          halfway is completed by its redelivery.

        Failures raise :class:`Unavailable`: the writer redelivers the message and the same
        buckets are recomputed.

        Cost: a recompute reads every raw item of its minute, so a caller that writes many
        batches into one minute calls this once for all of them (``write(..., rollups=False)``
        per batch; the writer does so per invocation), not once per batch.
        """
        if not self.rollups:
            return
        touched: dict[str, tuple[Record, set[int]]] = {}
        for record in records:
            pk = series_pk(record.org_id, record.kind, record.series_id)
            touched.setdefault(pk, (record, set()))[1].add(record.time - record.time % MINUTE_MS)
        puts: list[_Entry] = []
        dead: list[Item] = []
        for pk, (sample, minutes) in touched.items():
            puts.extend(self._rollup_minutes(pk, sample, minutes, dead))
        self._put_rollups(puts)  # every series' minutes in shared batches of 25
        if dead and self.compact:
            self._delete(dead)
        for pk, (_, minutes) in touched.items():
            hours = {m - m % HOUR_MS for m in minutes}
            self._rollup_coarse(pk, HOUR_MS, hours)
            self._rollup_coarse(pk, DAY_MS, {h - h % DAY_MS for h in hours})

    def _rollup_minutes(self, pk: str, sample: Record, minutes: set[int], dead: list[Item]) -> list[_Entry]:
        org, kind, series = sample.org_id, sample.kind, sample.series_id
        puts: list[_Entry] = []
        for lo, hi in _spans(minutes, MINUTE_MS, HOUR_MS):
            items: dict[int, list[Item]] = {}
            for item in self._items(pk, lo, hi, consistent=True):
                minute = int(item["t"]["N"]) // MINUTE_MS * MINUTE_MS
                if minute in minutes:
                    items.setdefault(minute, []).append(item)
            for minute, raw in items.items():
                rows = (record for record, _ in self._merged(org, kind, series, iter(raw)))
                summaries = summarize(rows, minute, minute + MINUTE_MS, MINUTE_MS).get(minute, {})
                seen, superseded = fingerprint(raw)
                dead.extend(superseded)
                puts.append(_Entry(-1, self._rollup_item(pk, MINUTE_MS, minute, seen, summaries)))
        return puts

    def _rollup_coarse(self, pk: str, grain: int, buckets: set[int]) -> None:
        finer = _FINER[grain]
        assert finer is not None
        stale: list[Item] = []
        for lo, hi in _spans(buckets, grain, DAY_MS):
            best: dict[int, Item] = {}  # finer bucket -> its winning item
            for item in self._rollup_items(pk, finer, lo, hi, consistent=True):
                bucket = _bucket_of(item["sk"]["S"])
                if bucket in best:  # minute items: ascending n, the later one wins
                    stale.append(best[bucket])
                best[bucket] = item
            grouped: dict[int, list[Item]] = {}
            for bucket, item in best.items():
                grouped.setdefault(bucket - bucket % grain, []).append(item)
            for bucket in sorted(buckets & set(grouped)):
                parts = grouped[bucket]
                folded: Buckets = {}
                for part in parts:
                    fold_into(folded, bucket, {k: _decode_summary(v) for k, v in part["s"]["M"].items()})
                seen = sum(int(part["n"]["N"]) for part in parts)
                self._put_if_newer(self._rollup_item(pk, grain, bucket, seen, folded.get(bucket, {})))
        if stale:
            self._delete(stale)

    def _rollup_item(self, pk: str, grain: int, bucket: int, seen: int, summaries: Mapping[str, Summary]) -> Item:
        return {
            "pk": {"S": pk},
            "sk": {"S": rollup_sk(grain, bucket, seen)},
            "n": {"N": str(seen)},
            "s": {"M": {name: _encode_summary(summary) for name, summary in summaries.items()}},
        }

    def _put_rollups(self, entries: list[_Entry]) -> None:
        for start in range(0, len(entries), self.max_batch_size):
            refused = self._put_batch(entries[start : start + self.max_batch_size])
            if refused:
                raise Unavailable(f"rollups not written: {refused[0].reason}")

    def _put_if_newer(self, item: Item) -> None:
        """Put a coarse rollup unless one computed from at least as many raw items is stored."""
        from botocore.exceptions import ClientError

        try:
            self._call(
                "put_item",
                ("ConditionalCheckFailedException",),
                TableName=self.table_name,
                Item=item,
                ConditionExpression="attribute_not_exists(n) OR n < :n",
                ExpressionAttributeValues={":n": item["n"]},
            )
        except ClientError:
            return  # a writer that saw as much or more got there first

    def _delete(self, items: list[Item]) -> None:
        for start in range(0, len(items), self.max_batch_size):
            requests = [{"DeleteRequest": {"Key": {"pk": i["pk"], "sk": i["sk"]}}} for i in items[start : start + 25]]
            # a delete left unprocessed only leaves a losing item behind: the next recompute retries it
            self._call("batch_write_item", RequestItems={self.table_name: requests})

    def _rollup_items(self, pk: str, grain: int, start: int, end: int, consistent: bool = False) -> Iterator[Item]:
        """Rollup items of ``grain`` whose bucket starts in ``[start, end)``, in bucket order."""
        low, high = max(start, 0), min(end - 1, MAX_TIME)
        if low > high:
            return
        prefix = _GRAIN_PREFIX[grain]
        yield from self._query(
            {
                "TableName": self.table_name,
                "KeyConditionExpression": "pk = :pk AND sk BETWEEN :lo AND :hi",
                "ExpressionAttributeValues": {
                    ":pk": {"S": pk},
                    ":lo": {"S": f"{prefix}#{low:015d}"},
                    ":hi": {"S": f"{prefix}#{high:015d}~"},
                },
                "ConsistentRead": consistent,
            }
        )

    def _query(self, kwargs: dict[str, Any]) -> Iterator[Item]:
        while True:
            response = self._call("query", **kwargs)
            yield from response.get("Items", [])
            last = response.get("LastEvaluatedKey")
            if not last:
                return
            kwargs["ExclusiveStartKey"] = last

    def _put_batch(self, batch: list[_Entry]) -> list[RejectedRecord]:
        from botocore.exceptions import ClientError

        by_key = {(e.item["pk"]["S"], e.item["sk"]["S"]): e for e in batch}
        pending = batch
        for attempt in range(1, self._max_attempts + 1):
            requests = [{"PutRequest": {"Item": e.item}} for e in pending]
            try:
                response = self._call(
                    "batch_write_item", ("ValidationException",), RequestItems={self.table_name: requests}
                )
            except ClientError as exc:  # ValidationException: isolate the item DynamoDB refuses
                if len(pending) == 1:
                    reason = exc.response.get("Error", {}).get("Message", "refused by DynamoDB")
                    return [
                        RejectedRecord(i, f"DynamoDB refused the item: {reason}", False) for i in pending[0].indexes
                    ]
                out: list[RejectedRecord] = []
                for entry in pending:
                    out.extend(self._put_batch([entry]))
                return out
            unprocessed = response.get("UnprocessedItems", {}).get(self.table_name, [])
            if not unprocessed:
                return []
            pending = [
                by_key[(u["PutRequest"]["Item"]["pk"]["S"], u["PutRequest"]["Item"]["sk"]["S"])] for u in unprocessed
            ]
            if attempt < self._max_attempts:
                self._sleep(self._backoff(attempt))
        reason = f"still unprocessed (throttled) after {self._max_attempts} BatchWriteItem attempts"
        return [RejectedRecord(i, reason, retryable=True) for e in pending for i in e.indexes]

    def _backoff(self, attempt: int) -> float:
        """Full jitter, capped at 2 s."""
        return random.uniform(0, min(2.0, self._base_delay * 2 ** (attempt - 1)))

    # --- reads --------------------------------------------------------------------------------

    def latest(self, org_id: str, kind: SeriesKind, series_id: str) -> Record | None:
        """The merged row of the greatest time: one descending Query, stopped at the first older item."""
        pk = series_pk(org_id, kind, series_id)
        items = self._items(pk, 0, MAX_TIME + 1, descending=True, page_size=_LATEST_PAGE)
        for record, _ in self._merged(org_id, kind, series_id, items):
            return record
        return None

    def _items(
        self,
        pk: str,
        start: int,
        end: int,
        descending: bool = False,
        after_sk: str | None = None,
        page_size: int | None = None,
        consistent: bool = False,
    ) -> Iterator[Item]:
        """Time items with ``start <= t < end`` in sk order, following LastEvaluatedKey."""
        low, high = max(start, 0), min(end - 1, MAX_TIME)
        if low > high:
            return
        kwargs: dict[str, Any] = {
            "TableName": self.table_name,
            "KeyConditionExpression": "pk = :pk AND sk BETWEEN :lo AND :hi",
            "ExpressionAttributeValues": {
                ":pk": {"S": pk},
                ":lo": {"S": f"T#{low:015d}#"},
                ":hi": {"S": f"T#{high:015d}#~"},
            },
            "ScanIndexForward": not descending,
        }
        if consistent:
            kwargs["ConsistentRead"] = True
        if page_size:
            kwargs["Limit"] = page_size
        if after_sk:
            kwargs["ExclusiveStartKey"] = {"pk": {"S": pk}, "sk": {"S": after_sk}}
        yield from self._query(kwargs)

    @staticmethod
    def _merged(org_id: str, kind: SeriesKind, series_id: str, items: Iterator[Item]) -> Iterator[tuple[Record, str]]:
        """Merge consecutive items of one time (per-metric upsert); yields (row, last sk of the time).

        Lazy: the caller stops reading (and Query stops paging) as soon as it has enough rows.
        """
        group: list[Item] = []
        for item in items:
            if group and item["t"]["N"] != group[0]["t"]["N"]:
                yield merge_versions(_record(org_id, kind, series_id, i) for i in group), group[-1]["sk"]["S"]
                group = []
            group.append(item)
        if group:
            yield merge_versions(_record(org_id, kind, series_id, i) for i in group), group[-1]["sk"]["S"]

    def history(
        self,
        org_id: str,
        kind: SeriesKind,
        series_id: str,
        start: int,
        end: int,
        measures: Sequence[str] | None = None,
        limit: int = 1000,
        cursor: str | None = None,
        descending: bool = False,
    ) -> tuple[list[Record], str | None]:
        check_limit(limit)
        after_sk = None
        if cursor:
            after_sk = decode_cursor(cursor, _CURSOR)
            if not start <= int(after_sk[2:17]) < end:
                raise ValidationFailed.single(["continuationToken"], "does not belong to this time range")
        pk = series_pk(org_id, kind, series_id)
        items = self._items(pk, start, end, descending, after_sk, page_size=min(limit + 1, 1000))
        page: list[Record] = []
        last_sk: str | None = None
        for row, group_last_sk in self._merged(org_id, kind, series_id, items):
            if len(page) == limit:  # one more time exists beyond the page
                return page, encode_cursor(last_sk) if last_sk else None
            record = project(row, measures)
            last_sk = group_last_sk
            if record is not None:
                page.append(record)
        return page, None

    def aggregate(
        self,
        org_id: str,
        kind: SeriesKind,
        series_id: str,
        start: int,
        end: int,
        interval_ms: int,
        aggregations: Mapping[str, Aggregation],
    ) -> list[AggregateRow]:
        """From the coarsest rollups that divide the interval; raw items only for the unaligned edges.

        ``rollups=False`` (or a table written before rollups existed, see docs/performance.md)
        folds every raw item instead: the same figures, at a cost that grows with the readings.
        """
        check_interval(interval_ms)
        pk = series_pk(org_id, kind, series_id)
        names = set(aggregations)
        if not self.rollups:
            rows = (row for row, _ in self._merged(org_id, kind, series_id, self._items(pk, start, end)))
            return compute_aggregates(rows, start, end, interval_ms, aggregations)
        buckets: Buckets = {}
        for grain, lo, hi in rollup_plan(start, end, interval_ms):
            if grain is None:
                for bucket, summaries in self._raw_buckets(
                    pk, org_id, kind, series_id, lo, hi, interval_ms, names
                ).items():
                    fold_into(buckets, bucket, summaries)
                continue
            best: dict[int, Item] = {}
            for item in self._rollup_items(pk, grain, lo, hi):
                best[_bucket_of(item["sk"]["S"])] = item  # minute items: ascending n, the last wins
            for bucket, item in best.items():
                summaries = {k: _decode_summary(v) for k, v in item["s"]["M"].items() if k in names}
                fold_into(buckets, bucket - bucket % interval_ms, summaries)
        return aggregate_rows(buckets, aggregations)

    def _raw_buckets(
        self,
        pk: str,
        org_id: str,
        kind: SeriesKind,
        series_id: str,
        start: int,
        end: int,
        interval_ms: int,
        names: set[str],
    ) -> Buckets:
        rows = (row for row, _ in self._merged(org_id, kind, series_id, self._items(pk, start, end)))
        return summarize(rows, start, end, interval_ms, names)
