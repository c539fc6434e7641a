"""ReadingStore on Amazon Timestream for LiveAnalytics (WriteRecords + Timestream SQL).

Note: AWS closed LiveAnalytics to new customers in 2025; DynamoDB is the default store.

Record layout: one MULTI measure record **per measure** of a :class:`Record`:
``MeasureName = <measure name>``, ``Time`` in MILLISECONDS, ``Version = record.version``.

Why one record per measure (per-metric upserts)
-----------------------------------------------
Timestream identifies a record by (dimensions, measure name, time). A record with the same
identity and a higher ``Version`` replaces the stored one *whole* (for a multi-measure record,
every measure it does not carry becomes NULL); a lower or equal version is rejected with
``ExistingVersion``. With one multi-measure record per reading (``MeasureName = "reading"``), a
second request with a different metric for the same instant erased the first metric. With the
measure name in the identity, a later version replaces exactly that metric, natively, with no
read before write, in any order and under redelivery; this is the per-metric upsert that
:func:`telemetry.adapters.reading_rules.merge_versions` defines for every store.

It stays a MULTI record (one measure plus ``_version``/``_json``) rather than a single-measure
one so that each metric keeps its own typed column named after it: aggregates stay
``avg("temp")`` over that column, with no pivot over ``measure_value::double``. A query row is now
one (time, measure): readers merge the rows of one time (``latest`` and ``history``) into one
record; ``aggregate`` needs no merge (each column is non-NULL only on its own rows).

Rows written by earlier releases (``measure_name = 'reading'``, every measure in one row) are
still read: they merge with newer per-measure rows by their ``_version``.

* dimensions: ``_org``, ``_kind``, ``_series`` and ``_d_{name}`` for each custom dimension. The
  leading underscore keeps them apart from measure columns (metric names start with a letter),
  so a metric called ``kind`` cannot collide with a dimension, and a query result can tell a
  VARCHAR dimension from a VARCHAR measure. Empty custom dimension values are not written.
* measures: one per metric, typed Double->DOUBLE, Int->BIGINT, Bool->BOOLEAN, String->VARCHAR,
  Json->VARCHAR of JSON text; plus ``_version`` (BIGINT; Timestream does not return the record
  version in queries) and, when the record holds Json measures, ``_json`` (VARCHAR, a JSON list
  of their names, so a reader knows which VARCHARs to decode).

Writes go in batches of 100 Timestream records (``max_batch_size``; a reading with m measures is
m records, so 1000 two-metric readings are 20 calls). RejectedRecordsException is handled per record
(``RejectedRecords[].RecordIndex / Reason / ExistingVersion``); the records not listed there were
ingested. Decisions:

* ``ExistingVersion`` present and >= our version: a record with the same or a higher version
  already exists. That is success (idempotent redelivery, or a newer upsert already landed).
* retryable (retried here with backoff, then returned with ``retryable=True`` so the message is
  redelivered): reasons mentioning throttling, internal errors, timeouts, "try again".
* dead-lettered (``retryable=False``; the writer logs them): timestamps outside the memory or
  magnetic store retention window, values/dimensions/measures over Timestream limits, invalid
  values, measure type mismatches with the table's existing column (schema conflicts). Retrying
  these can only fail again.
* any other reason: retryable. An unknown refusal should not be dropped on a guess; after the
  queue's maxReceiveCount the whole message lands in the DLQ, where it can be inspected.

Records this module can tell are invalid before sending (see
:func:`telemetry.adapters.reading_rules.record_problem`, reserved or over-long names) are
dead-lettered without a call. Whole-request failures (ThrottlingException after botocore's
retries, ResourceNotFound, connection errors) raise :class:`telemetry.errors.Unavailable`; a
ValidationException on a batch is narrowed by resending its records one per call.

Queries are Timestream SQL. Every value placed in SQL is a validated integer, a single-quoted
literal with ``'`` doubled, or a double-quoted identifier checked against a strict pattern.
History pages are chosen by time, not by row (a row is one measure, and a page must never split
one time's measures): a subquery picks the next ``limit + 1`` distinct times after the cursor, the
outer query reads every row of those times. The cursor is the last time returned (base64 of
``T#<time>``, as the other stores); the org is in the query text, so a cursor cannot leave the
caller's series, and a malformed one is ``ValidationFailed`` on ``continuationToken``.

Known limits: two batches accepted in the same microsecond (the version) for the same series,
time and metric cannot be ordered; Timestream keeps the first one written. SQL on a measure column that no record of the table ever had fails (Timestream
builds columns from data); Avg/Sum/Min/Max on a VARCHAR column fail in SQL (callers aggregate
numeric metrics only); First/Last of a Json measure come back as JSON text.
"""

from __future__ import annotations

import calendar
import random
import re
import time as _time
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, cast

import orjson

from telemetry.adapters.aws_clients import CLIENT_LOCK, aws_client
from telemetry.adapters.reading_rules import (
    check_interval,
    check_limit,
    decode_cursor,
    encode_cursor,
    merge_versions,
    project,
    record_problem,
)
from telemetry.errors import Unavailable, ValidationFailed
from telemetry.models.readings import AggregateRow, Measure, Record, RejectedRecord, SeriesKind
from telemetry.models.types import Aggregation, DataType

if TYPE_CHECKING:
    from mypy_boto3_timestream_query import TimestreamQueryClient
    from mypy_boto3_timestream_write import TimestreamWriteClient

#: the measure name of the one-record-per-reading layout of earlier releases (still read)
LEGACY_MEASURE_NAME = "reading"
ORG_DIM, KIND_DIM, SERIES_DIM, DIM_PREFIX = "_org", "_kind", "_series", "_d_"
VERSION_COLUMN, JSON_COLUMN = "_version", "_json"
MAX_DIMENSION_NAME_BYTES = 60

_TS_TYPES = {
    DataType.Double: "DOUBLE",
    DataType.Int: "BIGINT",
    DataType.Bool: "BOOLEAN",
    DataType.String: "VARCHAR",
    DataType.Json: "VARCHAR",
}
_CURSOR = re.compile(r"T#\d{15}")
_TABLE_NAME = re.compile(r"[A-Za-z0-9_.\-]{3,256}")
_MEASURE = re.compile(r"[A-Za-z][A-Za-z0-9_.\-]{0,255}")
_RESERVED = ("ts_", "measure_value", "measure_name", "time")

_RETRYABLE_WORDS = (
    "throttl",
    "rate limit",
    "rate exceeded",
    "internal",
    "timeout",
    "timed out",
    "try again",
    "unavailable",
    "capacity",
)
_DEAD_LETTER_WORDS = (
    "retention",
    "magnetic",
    "outside",
    "out of range",
    "exceed",
    "limit",
    "invalid",
    "too large",
    "too long",
    "mismatch",
    "schema",
    "data type",
)


def classify_rejection(reason: str, existing_version: int | None, version: int) -> bool | None:
    """``None``: already stored (success); ``True``: retryable; ``False``: dead-letter."""
    if existing_version is not None and existing_version >= version:
        return None
    text = reason.lower()
    if any(word in text for word in _RETRYABLE_WORDS):
        return True
    # anything unknown is retried: the whole message then reaches the DLQ instead of being dropped on a guess
    return not any(word in text for word in _DEAD_LETTER_WORDS)


def sql_literal(value: str) -> str:
    if "\x00" in value:
        raise ValidationFailed.single(["id"], "must not contain NUL characters")
    return "'" + value.replace("'", "''") + "'"


def sql_identifier(name: str, pattern: re.Pattern[str] = _MEASURE, field: str = "measures") -> str:
    if not pattern.fullmatch(name) or name.lower().startswith(_RESERVED):
        raise ValidationFailed.single([field], f"{name!r} is not a valid measure name")
    return '"' + name.replace('"', '""') + '"'


def _name_problem(record: Record) -> str | None:
    for name in record.measures:
        if not _MEASURE.fullmatch(name) or name.lower().startswith(_RESERVED):
            return f"measure name {name!r} cannot be stored in Timestream"
    for name in record.dimensions:
        column = DIM_PREFIX + name
        if not name or ":" in name or len(column.encode()) > MAX_DIMENSION_NAME_BYTES:
            return f"dimension name {name!r} cannot be stored in Timestream"
    return None


def _encode(measure: Measure) -> str:
    value, dtype = measure.value, measure.type
    if dtype is DataType.Double:
        return repr(float(value))
    if dtype is DataType.Int:
        return str(int(value))
    if dtype is DataType.Bool:
        return "true" if value else "false"
    if dtype is DataType.String:
        return str(value)
    return orjson.dumps(value).decode()


def to_timestream(record: Record) -> list[dict[str, Any]]:
    """One Timestream record per measure (see the module docstring: per-metric upserts)."""
    dims = [
        {"Name": ORG_DIM, "Value": record.org_id, "DimensionValueType": "VARCHAR"},
        {"Name": KIND_DIM, "Value": record.kind.value, "DimensionValueType": "VARCHAR"},
        {"Name": SERIES_DIM, "Value": record.series_id, "DimensionValueType": "VARCHAR"},
    ]
    dims += [
        {"Name": DIM_PREFIX + k, "Value": v, "DimensionValueType": "VARCHAR"}
        for k, v in sorted(record.dimensions.items())
        if v
    ]
    time, version = str(record.time), {"Name": VERSION_COLUMN, "Value": str(record.version), "Type": "BIGINT"}
    out = []
    for name, m in record.measures.items():
        values = [{"Name": name, "Value": _encode(m), "Type": _TS_TYPES[m.type]}, version]
        if m.type is DataType.Json:
            values.append({"Name": JSON_COLUMN, "Value": orjson.dumps([name]).decode(), "Type": "VARCHAR"})
        out.append(
            {
                "Dimensions": dims,
                "MeasureName": name,
                "MeasureValueType": "MULTI",
                "MeasureValues": values,
                "Time": time,
                "TimeUnit": "MILLISECONDS",
                "Version": record.version,
            }
        )
    return out


def parse_timestamp(text: str) -> int:
    """``2024-01-15 10:30:05.123000000`` (UTC) -> epoch milliseconds."""
    whole, _, fraction = text.partition(".")
    seconds = calendar.timegm(_time.strptime(whole, "%Y-%m-%d %H:%M:%S"))
    return seconds * 1000 + int((fraction + "000")[:3])


def _scalar(column_type: Mapping[str, Any], datum: Mapping[str, Any]) -> Any:
    if datum.get("NullValue") or "ScalarValue" not in datum:
        return None
    text = datum["ScalarValue"]
    scalar = column_type.get("ScalarType")
    if scalar in ("BIGINT", "INTEGER"):
        return int(text)
    if scalar == "DOUBLE":
        return float(text)
    if scalar == "BOOLEAN":
        return text.lower() == "true"
    if scalar == "TIMESTAMP":
        return parse_timestamp(text)
    return text


def parse_rows(response: Mapping[str, Any]) -> list[dict[str, tuple[str | None, Any]]]:
    """Query result -> one dict per row: column name -> (scalar type, value or None)."""
    columns = [(c["Name"], c.get("Type", {})) for c in response.get("ColumnInfo", [])]
    rows = []
    for row in response.get("Rows", []):
        rows.append(
            {
                name: (ctype.get("ScalarType"), _scalar(ctype, datum))
                for (name, ctype), datum in zip(columns, row.get("Data", []), strict=False)
            }
        )
    return rows


_FROM_SCALAR = {"DOUBLE": DataType.Double, "BIGINT": DataType.Int, "BOOLEAN": DataType.Bool}
_SKIPPED_COLUMNS = {"measure_name", ORG_DIM, KIND_DIM, SERIES_DIM, VERSION_COLUMN, JSON_COLUMN}


def row_to_record(org_id: str, kind: SeriesKind, series_id: str, row: Mapping[str, tuple[str | None, Any]]) -> Record:
    json_text = row.get(JSON_COLUMN, (None, None))[1]
    json_names = set(orjson.loads(json_text)) if json_text else set()
    measures: dict[str, Measure] = {}
    dims: dict[str, str] = {}
    for name, (scalar, value) in row.items():
        if value is None or name == "time" or name in _SKIPPED_COLUMNS:
            continue
        if name.startswith(DIM_PREFIX):
            dims[name[len(DIM_PREFIX) :]] = str(value)
        elif name in json_names:
            measures[name] = Measure(DataType.Json, orjson.loads(value))
        else:
            measures[name] = Measure(_FROM_SCALAR.get(scalar or "", DataType.String), value)
    time_value = row["time"][1]
    return Record(
        org_id=org_id,
        kind=kind,
        series_id=series_id,
        time=time_value if isinstance(time_value, int) else parse_timestamp(str(time_value)),
        measures=measures,
        version=int(row.get(VERSION_COLUMN, (None, 0))[1] or 0),
        dimensions=dims,
    )


_NUMERIC_AGGREGATIONS = {Aggregation.Avg, Aggregation.Sum, Aggregation.Min, Aggregation.Max}
_NUMERIC_COLUMNS = {"DOUBLE", "BIGINT"}
_AGGREGATE_SQL = {
    Aggregation.Avg: "avg({m})",
    Aggregation.Sum: "sum({m})",
    Aggregation.Min: "min({m})",
    Aggregation.Max: "max({m})",
    Aggregation.Count: "count({m})",
    Aggregation.First: "min_by({m}, CASE WHEN {m} IS NOT NULL THEN time END)",
    Aggregation.Last: "max_by({m}, CASE WHEN {m} IS NOT NULL THEN time END)",
}


def _error_code(exc: Exception) -> str:
    response = getattr(exc, "response", None) or {}
    return str(response.get("Error", {}).get("Code", type(exc).__name__))


class TimestreamReadingStore:
    max_batch_size = 100

    def __init__(
        self,
        database: str,
        table: str,
        write_client: TimestreamWriteClient | None = None,
        query_client: TimestreamQueryClient | None = None,
        *,
        max_attempts: int = 4,
        base_delay: float = 0.1,
        sleep: Callable[[float], None] = _time.sleep,
        endpoint_url: str | None = None,
    ) -> None:
        for name in (database, table):
            if not _TABLE_NAME.fullmatch(name):
                raise ValueError(f"invalid Timestream database or table name {name!r}")
        self.database, self.table = database, table
        self._from = f'"{database}"."{table}"'
        self._write_client = write_client
        self._query_client = query_client
        self._max_attempts = max_attempts
        self._base_delay = base_delay
        self._sleep = sleep
        self._endpoint_url = endpoint_url
        self._column_types: dict[str, str] | None = None

    def _client_options(self) -> dict[str, Any]:
        """Endpoint discovery ignores AWS_ENDPOINT_URL, so pass it explicitly (moto, local stacks)."""
        from botocore.config import Config

        return {
            "endpoint_url": self._endpoint_url,
            "config": Config(retries={"mode": "standard", "max_attempts": 5}),
        }

    @property
    def write_client(self) -> TimestreamWriteClient:
        if self._write_client is None:
            with CLIENT_LOCK:
                if self._write_client is None:
                    self._write_client = aws_client("timestream-write", **self._client_options())
        return self._write_client

    @property
    def query_client(self) -> TimestreamQueryClient:
        if self._query_client is None:
            with CLIENT_LOCK:
                if self._query_client is None:
                    self._query_client = aws_client("timestream-query", **self._client_options())
        return self._query_client

    # --- writes -------------------------------------------------------------------------------

    def write(self, records: Sequence[Record], *, rollups: bool = True) -> list[RejectedRecord]:
        """``rollups`` is accepted for the port's sake: Timestream aggregates natively, nothing to summarize."""
        rejected: list[RejectedRecord] = []
        pending: list[tuple[int, dict[str, Any]]] = []
        for index, record in enumerate(records):
            problem = record_problem(record) or _name_problem(record)
            if problem:
                rejected.append(RejectedRecord(index, problem, retryable=False))
            else:
                pending.extend((index, measure_record) for measure_record in to_timestream(record))
        for start in range(0, len(pending), self.max_batch_size):
            rejected.extend(self._write_chunk(pending[start : start + self.max_batch_size]))
        # a reading is several Timestream records: report each refused reading once
        first: dict[int, RejectedRecord] = {}
        for refusal in rejected:
            first.setdefault(refusal.index, refusal)
        return sorted(first.values(), key=lambda r: r.index)

    def refresh_rollups(self, records: Sequence[Record]) -> None:
        """Nothing to do: Timestream aggregates natively (``aggregate`` runs SQL)."""

    def _write_chunk(self, chunk: list[tuple[int, dict[str, Any]]]) -> list[RejectedRecord]:
        from botocore.exceptions import BotoCoreError, ClientError

        out: list[RejectedRecord] = []
        pending, last_reason = chunk, ""
        for attempt in range(1, self._max_attempts + 1):
            try:
                records: Any = [rec for _, rec in pending]
                self.write_client.write_records(DatabaseName=self.database, TableName=self.table, Records=records)
                return out
            except ClientError as exc:
                code = _error_code(exc)
                if code == "ValidationException":
                    if len(pending) == 1:
                        message = exc.response.get("Error", {}).get("Message", "refused by Timestream")
                        return [*out, RejectedRecord(pending[0][0], f"Timestream refused: {message}", False)]
                    for entry in pending:
                        out.extend(self._write_chunk([entry]))
                    return out
                if code != "RejectedRecordsException":
                    raise Unavailable(f"Timestream WriteRecords failed: {code}") from exc
                retry: list[tuple[int, dict[str, Any]]] = []
                rejections = cast(list[dict[str, Any]], exc.response.get("RejectedRecords", []))
                for rejection in rejections:
                    position = int(rejection["RecordIndex"])
                    if not 0 <= position < len(pending):
                        continue
                    index, rec = pending[position]
                    reason = str(rejection.get("Reason", ""))
                    existing = rejection.get("ExistingVersion")
                    verdict = classify_rejection(reason, None if existing is None else int(existing), rec["Version"])
                    if verdict is True:
                        retry.append((index, rec))
                        last_reason = reason
                    elif verdict is False:
                        out.append(RejectedRecord(index, reason or "rejected by Timestream", retryable=False))
                pending = retry
                if not pending:
                    return out
                if attempt < self._max_attempts:
                    self._sleep(random.uniform(0, min(2.0, self._base_delay * 2 ** (attempt - 1))))
            except BotoCoreError as exc:
                raise Unavailable(f"Timestream WriteRecords failed: {type(exc).__name__}") from exc
        reason = f"rejected {self._max_attempts} times: {last_reason}"
        return out + [RejectedRecord(index, reason, retryable=True) for index, _ in pending]

    # --- queries ------------------------------------------------------------------------------

    def _query(self, sql: str, token: str | None = None, max_rows: int | None = None) -> dict[str, Any]:
        from botocore.exceptions import BotoCoreError, ClientError

        kwargs: dict[str, Any] = {"QueryString": sql}
        if token:
            kwargs["NextToken"] = token
        if max_rows:
            kwargs["MaxRows"] = max_rows
        try:
            return dict(self.query_client.query(**kwargs))
        except ClientError as exc:
            code = _error_code(exc)
            if token and code == "ValidationException":
                raise ValidationFailed.single(["continuationToken"], "is not a valid continuation token") from exc
            raise Unavailable(f"Timestream Query failed: {code}") from exc
        except BotoCoreError as exc:
            raise Unavailable(f"Timestream Query failed: {type(exc).__name__}") from exc

    def _all_rows(self, sql: str) -> list[dict[str, tuple[str | None, Any]]]:
        rows: list[dict[str, tuple[str | None, Any]]] = []
        token: str | None = None
        while True:
            response = self._query(sql, token)
            rows.extend(parse_rows(response))
            token = response.get("NextToken")
            if not token:
                return rows

    def _where(self, org_id: str, kind: SeriesKind, series_id: str) -> str:
        return (
            f'"{ORG_DIM}" = {sql_literal(org_id)} AND "{KIND_DIM}" = {sql_literal(kind.value)}'
            f' AND "{SERIES_DIM}" = {sql_literal(series_id)}'
        )

    @staticmethod
    def _range(start: int, end: int) -> str:
        return f"time >= from_milliseconds({int(start)}) AND time < from_milliseconds({int(end)})"

    def latest_sql(self, org_id: str, kind: SeriesKind, series_id: str) -> str:
        where = self._where(org_id, kind, series_id)
        return f"SELECT * FROM {self._from} WHERE {where} AND time = (SELECT max(time) FROM {self._from} WHERE {where})"

    def latest(self, org_id: str, kind: SeriesKind, series_id: str) -> Record | None:
        """Every row (one per measure) of the greatest time, merged into one record."""
        rows = self._all_rows(self.latest_sql(org_id, kind, series_id))
        merged = _merge_rows(org_id, kind, series_id, rows)
        return merged[0] if merged else None

    def history_sql(
        self,
        org_id: str,
        kind: SeriesKind,
        series_id: str,
        start: int,
        end: int,
        descending: bool,
        after: int | None = None,
        times: int = 1000,
    ) -> str:
        """Every row of the next ``times`` distinct times after ``after`` (exclusive), in time order."""
        order = "DESC" if descending else "ASC"
        where = self._where(org_id, kind, series_id)
        window = self._range(start, end)
        if after is not None:
            window += f" AND time {'<' if descending else '>'} from_milliseconds({int(after)})"
        chosen = f"SELECT DISTINCT time FROM {self._from} WHERE {where} AND {window} ORDER BY time {order} LIMIT {int(times)}"
        return f"SELECT * FROM {self._from} WHERE {where} AND time IN ({chosen}) ORDER BY time {order}"

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
        """Up to ``limit`` times (fewer when ``measures`` leaves some out), each merged over its rows."""
        check_limit(limit)
        after = None
        if cursor:
            after = int(decode_cursor(cursor, _CURSOR)[2:])
            if not start <= after < end:
                raise ValidationFailed.single(["continuationToken"], "does not belong to this time range")
        times = min(limit, 1000)
        sql = self.history_sql(org_id, kind, series_id, start, end, descending, after, times + 1)
        merged = _merge_rows(org_id, kind, series_id, self._all_rows(sql))
        more = len(merged) > times
        merged = merged[:times]
        page = [r for r in (project(record, measures) for record in merged) if r is not None]
        return page, encode_cursor(f"T#{merged[-1].time:015d}") if more else None

    def aggregate_sql(
        self,
        org_id: str,
        kind: SeriesKind,
        series_id: str,
        start: int,
        end: int,
        interval_ms: int,
        aggregations: Mapping[str, Aggregation],
        columns: Mapping[str, str] | None = None,
    ) -> str | None:
        """The aggregate query, or ``None`` when no asked metric has a column to aggregate.

        ``columns`` (the table's column -> type, from DESCRIBE) keeps the query valid and the
        answers the contract's (:func:`telemetry.adapters.reading_rules.compute_aggregates`): a
        metric the table has no column for, and Avg/Sum/Min/Max of a column that is not numeric
        (VARCHAR, BOOLEAN), are NULL (Count 0) instead of a query error or a lexicographic min."""
        check_interval(interval_ms)
        bucket = f"bin(time, {int(interval_ms)}ms)"
        selects = [f'to_milliseconds({bucket}) AS "_bucket"']
        counts = []
        for position, (name, aggregation) in enumerate(aggregations.items()):
            column = sql_identifier(name, field="aggregations")
            kind_of = columns.get(name) if columns is not None else "DOUBLE"
            numeric_only = Aggregation(aggregation) in _NUMERIC_AGGREGATIONS
            if kind_of is None:
                selects.append(f'NULL AS "a{position}"')
                continue
            counts.append(f"count({column}) > 0")  # an interval holding a value of an asked metric is a bucket
            if numeric_only and kind_of not in _NUMERIC_COLUMNS:
                selects.append(f'NULL AS "a{position}"')
                continue
            selects.append(f'{_AGGREGATE_SQL[Aggregation(aggregation)].format(m=column)} AS "a{position}"')
        if not counts:
            return None
        return (
            f"SELECT {', '.join(selects)} FROM {self._from}"
            f" WHERE {self._where(org_id, kind, series_id)} AND {self._range(start, end)}"
            f" GROUP BY {bucket} HAVING {' OR '.join(counts)} ORDER BY 1 ASC"
        )

    def columns(self, names: Iterable[str]) -> dict[str, str]:
        """The table's columns and their types (DESCRIBE), cached; read again when one of
        ``names`` is not there (a metric's first values may have arrived since)."""
        if self._column_types is None or not set(names) <= set(self._column_types):
            rows = self._all_rows(f"DESCRIBE {self._from}")
            self._column_types = {
                str(row["Column"][1]): str(row["Type"][1]).upper() for row in rows if row.get("Column", (None, None))[1]
            }
        return self._column_types

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
        if not aggregations:
            check_interval(interval_ms)
            return []
        check_interval(interval_ms)
        for name in aggregations:
            sql_identifier(name, field="aggregations")  # before any call
        sql = self.aggregate_sql(
            org_id, kind, series_id, start, end, interval_ms, aggregations, self.columns(aggregations)
        )
        if sql is None:
            return []
        names = list(aggregations)
        result = []
        for row in self._all_rows(sql):
            values = {name: row.get(f"a{i}", (None, None))[1] for i, name in enumerate(names)}
            for name, aggregation in aggregations.items():
                if aggregation is Aggregation.Count and values[name] is None:
                    values[name] = 0
            result.append(AggregateRow(start=int(row["_bucket"][1]), values=values))
        return result


def _merge_rows(
    org_id: str, kind: SeriesKind, series_id: str, rows: Sequence[Mapping[str, tuple[str | None, Any]]]
) -> list[Record]:
    """Rows in time order (one per measure) -> one merged record per time, in the same order."""
    out: list[Record] = []
    group: list[Record] = []
    for row in rows:
        record = row_to_record(org_id, kind, series_id, row)
        if group and record.time != group[0].time:
            out.append(merge_versions(group))
            group = []
        group.append(record)
    if group:
        out.append(merge_versions(group))
    return out
