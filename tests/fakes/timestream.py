"""Timestream for LiveAnalytics, as far as :class:`TimestreamReadingStore` uses it, for the tests.

moto's timestream-write stores WriteRecords payloads but keeps every record (no identity, no
versions) and its timestream-query does not run SQL, so the Timestream adapter's aggregates,
history and latest could only be checked against canned answers. This fake serves both APIs on
real boto3 clients (a ``before-call`` hook answers instead of the network; botocore still builds
and validates every request, and raises the modelled errors):

* ``WriteRecords`` with Timestream's rules: a record's identity is (dimensions, measure name,
  time); a higher ``Version`` replaces the stored record whole, an equal or lower one is refused
  with ``RejectedRecords[].ExistingVersion`` (the identical record again is accepted, as AWS
  does); a measure column keeps the type it was first written with (a ``schema`` conflict else).
* ``Query`` executing the adapter's SQL subset on sqlite over those records: ``"db"."table"``,
  dimension and measure columns (NULL where a record has none), ``measure_name``, ``time`` (epoch
  ms inside; a TIMESTAMP in answers), ``from_milliseconds``, ``to_milliseconds``, ``bin(time,
  <n>ms)`` (floored to the epoch), ``min``/``max``/``avg``/``sum``/``count``, ``min_by``/``max_by``,
  ``DISTINCT``, ``IN``/scalar sub-queries, ``GROUP BY``/``HAVING``/``ORDER BY``/``LIMIT``. Like
  Timestream (its engine is Trino's), ``avg``/``sum`` of a VARCHAR or BOOLEAN column, a column the
  table has never had and BIGINT overflow are query errors (``ValidationException``); SQL outside
  the subset raises ``NotImplementedError``, so the fake never answers what it does not know.
  Answers come in pages of ``page_rows`` with a ``NextToken``.
"""

from __future__ import annotations

import itertools
import json
import re
import sqlite3
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import boto3
from botocore.awsrequest import AWSResponse

_TYPES = {"DOUBLE", "BIGINT", "BOOLEAN", "VARCHAR"}
_FUNCTIONS = {"from_milliseconds", "to_milliseconds", "bin", "min", "max", "avg", "sum", "count", "min_by", "max_by"}
_KEYWORDS = {"select", "distinct", "from", "where", "and", "or", "not", "in", "is", "null", "as", "group", "by"}
_KEYWORDS |= {"having", "order", "asc", "desc", "limit", "case", "when", "then", "end", "time", "ms"}


class QueryError(Exception):
    """What Timestream answers with a ValidationException."""


@dataclass
class _Table:
    #: identity -> (version, {column: value}); identity = (dimensions, measure name, time ms)
    records: dict[tuple[Any, ...], tuple[int, dict[str, Any]]] = field(default_factory=dict)
    #: every column ever written, with its type (dimensions VARCHAR)
    columns: dict[str, str] = field(default_factory=dict)


class _By:
    """``min_by``/``max_by``: the value at the least/greatest key (NULL keys ignored)."""

    def __init__(self, pick_max: bool) -> None:
        self.pick_max, self.best = pick_max, None
        self.value: Any = None

    def step(self, value: Any, key: Any) -> None:
        if key is None:
            return
        if self.best is None or (key > self.best if self.pick_max else key < self.best):
            self.best, self.value = key, value

    def finalize(self) -> Any:
        return self.value


class _MinBy(_By):
    def __init__(self) -> None:
        super().__init__(False)


class _MaxBy(_By):
    def __init__(self) -> None:
        super().__init__(True)


def _timestamp(ms: int) -> str:
    moment = datetime.fromtimestamp(ms // 1000, UTC)
    return moment.strftime("%Y-%m-%d %H:%M:%S") + f".{ms % 1000:03d}000000"


class TimestreamFake:
    def __init__(self, page_rows: int = 1000) -> None:
        self.tables: dict[tuple[str, str], _Table] = {}
        self.page_rows = page_rows
        self.queries: list[str] = []
        self._pages: dict[str, list[list[dict[str, Any]]]] = {}
        self._tokens = itertools.count(1)

    def create_table(self, database: str, table: str) -> None:
        self.tables[(database, table)] = _Table()

    def clients(self, region: str = "us-east-1") -> tuple[Any, Any]:
        """A timestream-write and a timestream-query client answered by this fake (an explicit
        endpoint turns endpoint discovery off, so no call leaves the process)."""
        write = boto3.client("timestream-write", region_name=region, endpoint_url="https://ingest.fake")
        query = boto3.client("timestream-query", region_name=region, endpoint_url="https://query.fake")
        write.meta.events.register("before-call.timestream-write.WriteRecords", self._on_write)
        query.meta.events.register("before-call.timestream-query.Query", self._on_query)
        return write, query

    # --- WriteRecords ---------------------------------------------------------------------
    def _on_write(self, params: dict[str, Any], **_: Any) -> tuple[AWSResponse, dict[str, Any]]:
        params = json.loads(params["body"])  # the request botocore built and validated (JSON protocol)
        table = self.tables.get((params["DatabaseName"], params["TableName"]))
        if table is None:
            return _error(404, "ResourceNotFoundException", "The table does not exist.")
        rejected = []
        for index, record in enumerate(params["Records"]):
            reason, existing = self._write(table, record)
            if reason is not None:
                entry: dict[str, Any] = {"RecordIndex": index, "Reason": reason}
                if existing is not None:
                    entry["ExistingVersion"] = existing
                rejected.append(entry)
        if rejected:
            return _error(419, "RejectedRecordsException", "One or more records have been rejected.", rejected)
        return _ok({"RecordsIngested": {"Total": len(params["Records"])}})

    def _write(self, table: _Table, record: dict[str, Any]) -> tuple[str | None, int | None]:
        if record.get("MeasureValueType") != "MULTI" or record.get("TimeUnit") != "MILLISECONDS":
            raise NotImplementedError("the fake knows MULTI records in MILLISECONDS")
        values: dict[str, Any] = {}
        for dim in record["Dimensions"]:
            values[dim["Name"]] = dim["Value"]
        for measure in record["MeasureValues"]:
            name, kind = measure["Name"], measure["Type"]
            known = table.columns.get(name)
            if known is not None and known != kind:
                return f"Measure {name} data type {kind} does not match the schema type {known}", None
            values[name] = _cast(measure["Value"], kind)
        time, version = int(record["Time"]), int(record.get("Version", 1))
        dims = tuple(sorted((d["Name"], d["Value"]) for d in record["Dimensions"]))
        identity = (dims, record["MeasureName"], time)
        stored = table.records.get(identity)
        row = {**values, "measure_name": record["MeasureName"], "time": time}
        if stored is not None and stored[0] >= version:
            if stored[0] == version and stored[1] == row:
                return None, None  # the identical record again: accepted, nothing changes
            return "A record with a higher or equal version already exists", stored[0]
        for dim in record["Dimensions"]:
            table.columns.setdefault(dim["Name"], "VARCHAR")
        for measure in record["MeasureValues"]:
            table.columns.setdefault(measure["Name"], measure["Type"])
        table.records[identity] = (version, row)
        return None, None

    # --- Query ----------------------------------------------------------------------------
    def _on_query(self, params: dict[str, Any], **_: Any) -> tuple[AWSResponse, dict[str, Any]]:
        params = json.loads(params["body"])
        token = params.get("NextToken")
        if token:
            pages = self._pages.get(token)
            if pages is None:
                return _error(400, "ValidationException", "Invalid pagination token.")
            return _ok(self._page(pages))
        sql = params["QueryString"]
        self.queries.append(sql)
        try:
            columns, rows = self.execute(sql)
        except QueryError as exc:
            return _error(400, "ValidationException", str(exc))
        size = min(params.get("MaxRows") or self.page_rows, self.page_rows)
        chunks = [rows[i : i + size] for i in range(0, len(rows), size)] or [[]]
        return _ok(self._page([[{"ColumnInfo": columns, "Rows": chunk}] for chunk in chunks]))

    def _page(self, pages: list[list[dict[str, Any]]]) -> dict[str, Any]:
        answer = dict(pages[0][0])
        if len(pages) > 1:
            token = f"t{next(self._tokens)}"
            self._pages[token] = pages[1:]
            answer["NextToken"] = token
        return answer

    def execute(self, sql: str) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        """``sql`` -> (ColumnInfo, Rows) as Timestream answers them."""
        match = re.search(r'(?:FROM|DESCRIBE) "([^"]+)"\."([^"]+)"', sql)
        if match is None or (match[1], match[2]) not in self.tables:
            raise QueryError("The table does not exist")
        table = self.tables[(match[1], match[2])]
        types = {"time": "TIMESTAMP", "measure_name": "VARCHAR", **table.columns}
        if sql.startswith("DESCRIBE "):
            if sql != match[0]:
                raise NotImplementedError(f"the fake knows DESCRIBE of one table, not: {sql}")
            attribute = {"time": "TIMESTAMP", "measure_name": "MEASURE_NAME"}
            info = [
                {"Name": n, "Type": {"ScalarType": "VARCHAR"}} for n in ("Column", "Type", "Timestream attribute type")
            ]
            kinds = [
                (n, k, attribute.get(n, "DIMENSION" if n.startswith("_") and k == "VARCHAR" else "MULTI"))
                for n, k in types.items()
            ]
            return info, [{"Data": [{"ScalarValue": v} for v in (n, k.lower(), a)]} for n, k, a in kinds]
        _check_subset(sql)
        for name in re.findall(r'"([^"]+)"', sql.replace(match[0], "")):
            if name not in types and not re.search(rf'AS "{re.escape(name)}"', sql):
                raise QueryError(f"line 1:1: Column '{name}' does not exist")
        for function, column in re.findall(r'\b(avg|sum)\("([^"]+)"\)', sql):
            if types[column] not in ("BIGINT", "DOUBLE"):
                raise QueryError(f"Unexpected parameters ({types[column].lower()}) for function {function}")
        text = sql.replace(match[0], "FROM t")
        text = re.sub(r"bin\(time, (\d+)ms\)", lambda m: f"(time - ((time % {m[1]}) + {m[1]}) % {m[1]})", text)
        text = re.sub(r"\b(from_milliseconds|to_milliseconds)\(", "(", text)
        db = sqlite3.connect(":memory:")
        db.create_aggregate("min_by", 2, _MinBy)
        db.create_aggregate("max_by", 2, _MaxBy)
        names = list(types)
        db.execute(f"CREATE TABLE t ({', '.join(_quote(n) for n in names)})")
        db.executemany(
            f"INSERT INTO t VALUES ({', '.join('?' * len(names))})",
            [[row.get(n) for n in names] for _, row in table.records.values()],
        )
        try:
            cursor = db.execute(text)
        except sqlite3.OperationalError as exc:
            if "integer overflow" in str(exc):  # a BIGINT sum beyond 64 bits: Trino's "bigint addition overflow"
                raise QueryError("bigint addition overflow") from exc
            raise NotImplementedError(f"the fake cannot run {text}: {exc}") from exc
        out_names = [d[0] for d in cursor.description]
        out_types = [_output_type(name, sql, types) for name in out_names]
        rows = [
            {"Data": [_datum(value, kind) for value, kind in zip(row, out_types, strict=True)]}
            for row in cursor.fetchall()
        ]
        db.close()
        columns = [{"Name": n, "Type": {"ScalarType": k}} for n, k in zip(out_names, out_types, strict=True)]
        return columns, rows


def _check_subset(sql: str) -> None:
    bare = re.sub(r"'(?:[^']|'')*'", "''", re.sub(r'"[^"]*"', '""', sql))
    for word in re.findall(r"[A-Za-z_][A-Za-z_0-9]*", bare):
        low = word.lower()
        if low not in _KEYWORDS and low not in _FUNCTIONS and not re.fullmatch(r"\d+ms", low):
            raise NotImplementedError(f"the fake does not know {word!r} of: {sql}")


def _select_items(sql: str) -> dict[str, str]:
    """alias -> expression of the outermost SELECT list (``expr AS "alias"`` items)."""
    head = re.match(r"SELECT (?:DISTINCT )?(.*?) FROM ", sql)
    if head is None:
        return {}
    items, depth, current = [], 0, ""
    for char in head[1]:
        depth += {"(": 1, ")": -1}.get(char, 0)
        if char == "," and depth == 0:
            items.append(current.strip())
            current = ""
        else:
            current += char
    items.append(current.strip())
    out = {}
    for item in items:
        aliased = re.fullmatch(r'(.*) AS "([^"]+)"', item)
        if aliased:
            out[aliased[2]] = aliased[1]
    return out


def _output_type(name: str, sql: str, types: dict[str, str]) -> str:
    if name in types:
        return types[name]
    expression = _select_items(sql).get(name, "")
    if expression == "NULL":
        return "UNKNOWN"
    match = re.match(r'(\w+)\(\s*(?:"([^"]+)")?', expression)
    if match is None:
        raise NotImplementedError(f"the fake cannot type the column {name!r} of: {sql}")
    function, argument = match[1], match[2]
    if function in ("to_milliseconds", "count"):
        return "BIGINT"
    if function == "avg":
        return "DOUBLE"
    if argument in types:
        return types[argument]
    raise NotImplementedError(f"the fake cannot type the column {name!r} of: {sql}")


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _cast(text: str, kind: str) -> Any:
    if kind not in _TYPES:
        raise NotImplementedError(f"the fake knows {sorted(_TYPES)} measures, not {kind}")
    if kind == "DOUBLE":
        return float(text)
    if kind == "BIGINT":
        return int(text)
    if kind == "BOOLEAN":
        return 1 if text == "true" else 0
    return text


def _datum(value: Any, kind: str) -> dict[str, Any]:
    if value is None:
        return {"NullValue": True}
    if kind == "TIMESTAMP":
        return {"ScalarValue": _timestamp(int(value))}
    if kind == "BOOLEAN":
        return {"ScalarValue": "true" if value else "false"}
    if kind == "DOUBLE":
        return {"ScalarValue": repr(float(value))}
    if kind == "BIGINT":
        return {"ScalarValue": str(int(value))}
    return {"ScalarValue": str(value)}


def _ok(body: dict[str, Any]) -> tuple[AWSResponse, dict[str, Any]]:
    http = AWSResponse("https://fake", 200, {}, None)
    return http, {**body, "ResponseMetadata": {"HTTPStatusCode": 200}}


def _error(status: int, code: str, message: str, rejected: list[dict[str, Any]] | None = None) -> Any:
    http = AWSResponse("https://fake", status, {}, None)
    body: dict[str, Any] = {"Error": {"Code": code, "Message": message}, "ResponseMetadata": {"HTTPStatusCode": status}}
    if rejected is not None:
        body["RejectedRecords"] = rejected
    return http, body
