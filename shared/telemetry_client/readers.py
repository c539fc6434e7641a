"""Reading backfill files into frames: CSV, JSON Lines and Parquet, wide or long.

* **wide**: one row per timestamp, one column (or key) per metric: ``timestamp,soc,soh``;
* **long**: one row per value: ``timestamp,metric,value``;
* JSON Lines also accepts the API's own frames, ``{"timestamp": …, "metrics": {…}}``.

Timestamps are epoch milliseconds, epoch seconds (numbers below 10^11, i.e. before 1973 as
milliseconds) or ISO 8601 (``Z``/offset; without one, UTC). An empty cell is a gap (no value).
A row that cannot become a frame is yielded with its reason and goes to the rejects file.
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, BinaryIO, Literal

Layout = Literal["auto", "wide", "long"]
TIMESTAMP_COLUMNS = ("timestamp", "time", "ts", "datetime", "date")
_INT = re.compile(r"[+-]?\d+")
_FLOAT = re.compile(r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?")


class ReaderError(Exception):
    """The file cannot be read at all (unknown format, no header, Parquet without pyarrow)."""


@dataclass(slots=True)
class Row:
    """One input row (1-based ``row``; for CSV the header is row 0) and what it became."""

    row: int
    end: int
    """Bytes of the file consumed once this row is read (progress and resume accounting)."""
    timestamp: int | None = None
    metrics: dict[str, Any] = field(default_factory=dict)
    error: str | None = None


def parse_timestamp(value: Any) -> int:
    """Epoch milliseconds from epoch ms/s numbers or ISO 8601 text (ValueError otherwise)."""
    if isinstance(value, bool) or value is None:
        raise ValueError(f"timestamp {value!r} is not a time")
    if isinstance(value, str):
        text = value.strip()
        if _INT.fullmatch(text) or _FLOAT.fullmatch(text):
            return parse_timestamp(float(text) if "." in text or "e" in text.lower() else int(text))
        try:
            moment = datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
        except ValueError:
            raise ValueError(f"timestamp {value!r} is neither epoch milliseconds/seconds nor ISO 8601") from None
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=UTC)
        return round(moment.timestamp() * 1000)
    if isinstance(value, datetime):
        moment = value if value.tzinfo else value.replace(tzinfo=UTC)
        return round(moment.timestamp() * 1000)
    if isinstance(value, int | float):
        if value != value or value in (float("inf"), float("-inf")):
            raise ValueError(f"timestamp {value!r} is not a time")
        return round(value * 1000) if abs(value) < 1e11 else round(value)
    raise ValueError(f"timestamp {value!r} is not a time")


def cell_value(text: str) -> Any:
    """A CSV cell as the JSON scalar it reads as (numbers as numbers; the server coerces the rest
    to the metric's type, or refuses it)."""
    text = text.strip()
    if _INT.fullmatch(text):
        return int(text)
    if _FLOAT.fullmatch(text):
        return float(text)
    return text


class _Counting(io.RawIOBase):
    """A raw reader that counts the bytes handed to the text layer above it."""

    def __init__(self, raw: BinaryIO) -> None:
        self.raw, self.count = raw, 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        data = self.raw.read(len(buffer))
        buffer[: len(data)] = data
        self.count += len(data)
        return len(data)


def detect_format(path: Path, given: str | None) -> str:
    if given and given != "auto":
        return given
    suffix = path.suffix.lower()
    if suffix in (".csv", ".tsv"):
        return "csv"
    if suffix in (".jsonl", ".ndjson", ".json"):
        return "jsonl"
    if suffix in (".parquet", ".pq"):
        return "parquet"
    raise ReaderError(f"cannot tell the format of {path.name}: pass --format csv|jsonl|parquet")


def read_rows(
    path: Path, *, fmt: str | None = None, layout: Layout = "auto", timestamp_column: str | None = None
) -> Iterator[Row]:
    kind = detect_format(path, fmt)
    if kind == "csv":
        return _csv_rows(path, layout, timestamp_column)
    if kind == "jsonl":
        return _jsonl_rows(path, layout, timestamp_column)
    if kind == "parquet":
        return _parquet_rows(path, layout, timestamp_column)
    raise ReaderError(f"unknown format {kind!r}")


def _pick_timestamp(columns: list[str], given: str | None) -> str:
    if given:
        if given not in columns:
            raise ReaderError(f"no column {given!r} (columns: {', '.join(columns)})")
        return given
    lowered = {c.lower().strip(): c for c in columns}
    for name in TIMESTAMP_COLUMNS:
        if name in lowered:
            return lowered[name]
    return columns[0]


def _is_long(columns: list[str], ts: str, layout: Layout) -> bool:
    if layout != "auto":
        return layout == "long"
    rest = {c.lower().strip() for c in columns if c != ts}
    return rest == {"metric", "value"}


def _row_from_mapping(number: int, end: int, record: dict[str, Any], ts: str, long: bool, from_text: bool) -> Row:
    row = Row(number, end)
    raw_ts = record.get(ts)
    if raw_ts in (None, ""):
        row.error = f"{ts}: is missing"
        return row
    try:
        row.timestamp = parse_timestamp(raw_ts)
    except ValueError as exc:
        row.error = f"{ts}: {exc}"
        return row
    convert = cell_value if from_text else (lambda v: v)
    if long:
        keys = {k.lower().strip(): k for k in record}
        name, value = record.get(keys.get("metric", "metric")), record.get(keys.get("value", "value"))
        if not name:
            row.error = "metric: is missing"
        elif value in (None, ""):
            row.error = f"value: is missing for metric {name!r}"
        else:
            row.metrics = {str(name).strip(): convert(value) if isinstance(value, str) else value}
        return row
    metrics = record.get("metrics") if not from_text else None
    source = metrics if isinstance(metrics, dict) else {k: v for k, v in record.items() if k != ts}
    row.metrics = {
        str(k).strip(): (convert(v) if isinstance(v, str) else v)
        for k, v in source.items()
        if v is not None and v != ""
    }
    if not row.metrics:
        row.error = "has no metric values"
    return row


def _csv_rows(path: Path, layout: Layout, timestamp_column: str | None) -> Iterator[Row]:
    with path.open("rb") as raw:
        counting = _Counting(raw)
        text = io.TextIOWrapper(io.BufferedReader(counting, buffer_size=64 * 1024), encoding="utf-8-sig", newline="")
        dialect = "excel-tab" if path.suffix.lower() == ".tsv" else "excel"
        reader = csv.reader(text, dialect=dialect)
        header = next(reader, None)
        if not header:
            raise ReaderError(f"{path.name} has no header row")
        header = [h.strip() for h in header]
        ts = _pick_timestamp(header, timestamp_column)
        long = _is_long(header, ts, layout)
        for number, cells in enumerate(reader, start=1):
            if not cells or all(not c.strip() for c in cells):
                continue
            if len(cells) > len(header):
                yield Row(number, counting.count, error=f"has {len(cells)} cells, the header {len(header)}")
                continue
            yield _row_from_mapping(number, counting.count, dict(zip(header, cells, strict=False)), ts, long, True)


def _jsonl_rows(path: Path, layout: Layout, timestamp_column: str | None) -> Iterator[Row]:
    end = 0
    with path.open("rb") as handle:
        for number, line in enumerate(handle, start=1):
            end += len(line)
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except ValueError as exc:
                yield Row(number, end, error=f"is not JSON: {exc}")
                continue
            if not isinstance(record, dict):
                yield Row(number, end, error="is not a JSON object")
                continue
            ts = _pick_timestamp(list(record), timestamp_column) if record else "timestamp"
            long = _is_long(list(record), ts, layout) and "metrics" not in record
            yield _row_from_mapping(number, end, record, ts, long, False)


def _parquet_rows(path: Path, layout: Layout, timestamp_column: str | None) -> Iterator[Row]:
    try:
        import pyarrow.parquet as pq  # optional: only for Parquet files
    except ImportError:
        raise ReaderError(
            "reading Parquet needs pyarrow, which is not installed: `pip install pyarrow`, "
            "or convert the file to CSV or JSON Lines"
        ) from None
    parquet = pq.ParquetFile(str(path))
    columns = list(parquet.schema_arrow.names)
    ts = _pick_timestamp(columns, timestamp_column)
    long = _is_long(columns, ts, layout)
    total, rows = path.stat().st_size, max(1, parquet.metadata.num_rows)
    number = 0
    for batch in parquet.iter_batches(batch_size=10_000):
        for record in batch.to_pylist():
            number += 1
            yield _row_from_mapping(number, total * number // rows, record, ts, long, False)
