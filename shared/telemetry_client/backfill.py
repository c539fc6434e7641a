"""``telemetry backfill``: a file of readings into one thing, resumably.

Design (exactly once across interruptions):

* The file is cut into **chunks** deterministically: consecutive valid rows, at most
  ``chunk_size`` frames (≤ 10,000) and 5 MiB each. The cut depends only on the file and the
  options, so a re-run cuts the same chunks with the same ids (0, 1, 2, …).
* A chunk is **acknowledged** when the API answered 2xx for it; its id and counts are then
  appended to the checkpoint (one JSON line, flushed and fsynced) after its refused rows went to
  the rejects file. A re-run skips every acknowledged chunk: nothing acknowledged is sent twice.
* **Ctrl-C** stops sending new chunks and waits for the ones in flight (at most
  ``concurrency``), which are then acknowledged too; a second Ctrl-C abandons them. Only a chunk
  abandoned that way (or killed with the process) can be sent again by the re-run, and that is
  harmless: a frame is an upsert of (thing, timestamp, metric), so the stored readings are the same.
* Rows the API refuses (its 400 names ``frames/<i>/…``) are taken out of the chunk with their
  reasons and the rest is sent again, so one bad value never loses its neighbours.
"""

from __future__ import annotations

import hashlib
import json
import os
import signal
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from . import limits
from .chunking import dumps
from .client import Client
from .errors import ApiError, BadRequest
from .readers import Layout, Row, read_rows

CHECKPOINT_VERSION = 1


@dataclass(slots=True)
class Chunk:
    id: int
    rows: list[tuple[int, dict[str, Any]]] = field(default_factory=list)
    """(row number, frame) of the rows to send."""
    local_rejects: list[dict[str, Any]] = field(default_factory=list)
    start: int = 0
    end: int = 0
    """Byte span of the file the chunk covers (progress)."""
    read: int = 0
    """Rows of the file the chunk covers (valid or not)."""


@dataclass(slots=True)
class Ack:
    chunk: int
    read: int
    frames: int
    values: int
    refused: int
    bytes: int


@dataclass(slots=True)
class Summary:
    file: str
    thing: str
    rowsRead: int = 0
    framesAccepted: int = 0
    readingsAccepted: int = 0
    rowsRefused: int = 0
    chunks: int = 0
    chunksSent: int = 0
    chunksSkipped: int = 0
    resumed: bool = False
    complete: bool = False
    interrupted: bool = False
    rejects: str = ""
    checkpoint: str = ""
    seconds: float = 0.0
    error: str | None = None


def chunks(
    rows: Iterator[Row], *, chunk_size: int = limits.MAX_FRAMES, max_bytes: int = limits.MAX_INGEST_BYTES
) -> Iterator[Chunk]:
    """Cut rows into chunks (see the module docstring): the same input always gives the same cut."""
    chunk_size = max(1, min(chunk_size, limits.MAX_FRAMES))
    envelope = len(dumps({"frames": []}))
    current, size, position = Chunk(0), envelope, 0
    for row in rows:
        if row.error is not None or row.timestamp is None:
            current.local_rejects.append({"row": row.row, "reasons": [row.error or "no timestamp"]})
            current.read += 1
            current.end = position = row.end
            continue
        frame = {"timestamp": row.timestamp, "metrics": row.metrics}
        frame_bytes = len(dumps(frame)) + 1
        if envelope + frame_bytes > max_bytes:
            current.local_rejects.append(
                {"row": row.row, "reasons": [f"is {frame_bytes} bytes, over the request limit"]}
            )
            current.read += 1
            current.end = position = row.end
            continue
        if current.rows and (len(current.rows) >= chunk_size or size + frame_bytes > max_bytes):
            yield current
            current, size = Chunk(current.id + 1, start=position), envelope
        current.rows.append((row.row, frame))
        current.read += 1
        size += frame_bytes
        current.end = position = row.end
    if current.rows or current.local_rejects:
        yield current


def _frame_index(path: str) -> int | None:
    parts = path.split("/")
    if len(parts) >= 2 and parts[0] == "frames" and parts[1].isdigit():
        return int(parts[1])
    return None


def send_chunk(client: Client, thing: str, chunk: Chunk) -> tuple[Ack, list[dict[str, Any]]]:
    """Send one chunk; rows the API refuses by index are set aside with their reasons and the rest
    resent. Any other refusal (unknown thing, 401, 424 …) is raised: it would refuse every chunk."""
    pending = list(chunk.rows)
    refused = list(chunk.local_rejects)
    while pending:
        try:
            client.send_frames(thing, [frame for _, frame in pending])  # type: ignore[misc]
            break
        except BadRequest as error:
            bad: dict[int, list[str]] = {}
            for item in error.errors:
                index = _frame_index(str(item.get("path", "")))
                if index is not None and index < len(pending):
                    bad.setdefault(index, []).append(f"{item.get('path')}: {item.get('message')}")
            if not bad:
                raise
            for index, reasons in sorted(bad.items()):
                row, frame = pending[index]
                refused.append({"row": row, "timestamp": frame["timestamp"], "reasons": reasons})
            pending = [entry for i, entry in enumerate(pending) if i not in bad]
    values = sum(len(frame["metrics"]) for _, frame in pending)
    refused.sort(key=lambda r: r["row"])
    ack = Ack(chunk.id, chunk.read, len(pending), values, len(refused), chunk.end - chunk.start)
    return ack, refused


def _fingerprint(path: Path) -> dict[str, Any]:
    stat = path.stat()
    with path.open("rb") as handle:
        head = hashlib.sha256(handle.read(1 << 20)).hexdigest()
    return {"size": stat.st_size, "head": head}


class Checkpoint:
    """An append-only JSON Lines file: a header naming the run, then one line per acknowledged
    chunk (fsynced), then a ``done`` line."""

    def __init__(self, path: Path, header: dict[str, Any]) -> None:
        self.path, self.header = path, header
        self.acked: dict[int, Ack] = {}
        self.done = False
        self._handle: Any = None

    def load(self) -> bool:
        """Read an existing checkpoint; True if it resumes this run. A checkpoint of another run
        (other file content, thing or cut) is refused rather than silently ignored."""
        if not self.path.exists():
            return False
        lines = [json.loads(line) for line in self.path.read_text().splitlines() if line.strip()]
        if not lines:
            return False
        if lines[0] != self.header:
            raise SystemExit(
                f"{self.path} belongs to another backfill (file, thing or --chunk-size differ): "
                "pass --restart to start over, or --checkpoint to use another file"
            )
        for line in lines[1:]:
            if "chunk" in line:
                self.acked[line["chunk"]] = Ack(**line)
            if line.get("done"):
                self.done = True
        return True

    def open(self, fresh: bool) -> None:
        self._handle = self.path.open("w" if fresh else "a", encoding="utf-8")
        if fresh:
            self._write(self.header)

    def _write(self, line: dict[str, Any]) -> None:
        self._handle.write(json.dumps(line) + "\n")
        self._handle.flush()
        os.fsync(self._handle.fileno())

    def ack(self, ack: Ack) -> None:
        self.acked[ack.chunk] = ack
        self._write(asdict(ack))

    def finish(self) -> None:
        self.done = True
        self._write({"done": True})

    def close(self) -> None:
        if self._handle:
            self._handle.close()


@dataclass
class Options:
    path: Path
    thing: str
    fmt: str | None = None
    layout: Layout = "auto"
    timestamp_column: str | None = None
    chunk_size: int = limits.MAX_FRAMES
    concurrency: int = 4
    checkpoint: Path | None = None
    rejects: Path | None = None
    restart: bool = False


Progress = Callable[[Ack, Summary], None]


def run(
    client: Client,
    options: Options,
    *,
    on_ack: Progress | None = None,
    on_resume: Callable[[int], None] | None = None,
) -> Summary:
    """Backfill ``options.path`` into ``options.thing``; see the module docstring. ``on_ack`` is
    called on the calling thread after each acknowledged chunk is recorded (progress bars; a
    KeyboardInterrupt raised from it stops the run like Ctrl-C); ``on_resume`` gets the bytes of
    the file that earlier runs already acknowledged."""
    started = time.monotonic()
    checkpoint_path = options.checkpoint or options.path.with_name(options.path.name + ".checkpoint")
    rejects_path = options.rejects or options.path.with_name(options.path.name + ".rejects.jsonl")
    header = {
        "version": CHECKPOINT_VERSION,
        "file": str(options.path.resolve()),
        **_fingerprint(options.path),
        "thing": options.thing,
        "layout": options.layout,
        "timestampColumn": options.timestamp_column,
        "chunkSize": max(1, min(options.chunk_size, limits.MAX_FRAMES)),
    }
    checkpoint = Checkpoint(checkpoint_path, header)
    if options.restart and checkpoint_path.exists():
        checkpoint_path.unlink()
    resumed = checkpoint.load()
    summary = Summary(
        str(options.path), options.thing, resumed=resumed, rejects=str(rejects_path), checkpoint=str(checkpoint_path)
    )
    for ack in checkpoint.acked.values():
        _count(summary, ack)
        summary.chunksSkipped += 1
    if on_resume and checkpoint.acked:
        on_resume(sum(ack.bytes for ack in checkpoint.acked.values()))
    if checkpoint.done:
        summary.complete, summary.chunks = True, len(checkpoint.acked)
        summary.seconds = round(time.monotonic() - started, 3)
        return summary
    checkpoint.open(fresh=not resumed)
    rejects = rejects_path.open("a" if resumed else "w", encoding="utf-8")
    in_flight: dict[Future[tuple[Ack, list[dict[str, Any]]]], Chunk] = {}
    stop = threading.Event()

    def on_sigint(signum: int, frame: Any) -> None:
        """The first Ctrl-C stops sending new chunks (what is in flight is still acknowledged);
        the second abandons the chunks in flight."""
        if stop.is_set():
            raise KeyboardInterrupt
        stop.set()

    def settle(done: set[Future[tuple[Ack, list[dict[str, Any]]]]], notify: bool = True) -> None:
        for future in done:
            in_flight.pop(future)
            ack, refused = future.result()  # raises a fatal ApiError
            for line in refused:
                rejects.write(json.dumps(line, ensure_ascii=False) + "\n")
            rejects.flush()
            checkpoint.ack(ack)
            summary.chunksSent += 1
            if on_ack and notify:
                try:
                    on_ack(ack, _totals(summary, checkpoint))
                except KeyboardInterrupt:  # a hook's stop: like Ctrl-C, once this chunk is recorded
                    stop.set()

    def settle_some() -> None:
        done, _ = wait(in_flight, timeout=0.25, return_when=FIRST_COMPLETED)
        settle(done)

    main_thread = threading.current_thread() is threading.main_thread()
    previous = signal.signal(signal.SIGINT, on_sigint) if main_thread else None
    pool = ThreadPoolExecutor(max_workers=max(1, options.concurrency), thread_name_prefix="backfill")
    total = 0
    try:
        rows = read_rows(
            options.path, fmt=options.fmt, layout=options.layout, timestamp_column=options.timestamp_column
        )
        for chunk in chunks(rows, chunk_size=options.chunk_size):
            if stop.is_set():
                break
            total += 1
            if chunk.id in checkpoint.acked:
                continue
            while len(in_flight) >= max(1, options.concurrency):
                settle_some()
            if stop.is_set():
                break
            in_flight[pool.submit(send_chunk, client, options.thing, chunk)] = chunk
        while in_flight:  # also the drain after a Ctrl-C: in flight means sent, so record it
            settle_some()
        if stop.is_set():
            summary.interrupted = True
        else:
            summary.complete = True
            checkpoint.finish()
    except KeyboardInterrupt:  # the second Ctrl-C: the chunks still in flight are abandoned
        summary.interrupted = True
    except ApiError as error:
        summary.error = str(error)
        for future in list(in_flight):
            if future.done() and future.exception() is None:
                settle({future}, notify=False)
    finally:
        if previous is not None:
            signal.signal(signal.SIGINT, previous)
        pool.shutdown(wait=not summary.interrupted, cancel_futures=True)
        checkpoint.close()
        rejects.close()
    _totals(summary, checkpoint)
    summary.chunks = total if summary.complete else max(total, len(checkpoint.acked))
    summary.seconds = round(time.monotonic() - started, 3)
    return summary


def _totals(summary: Summary, checkpoint: Checkpoint) -> Summary:
    """The counts, from the checkpoint's acknowledged chunks (this run's and earlier runs')."""
    summary.rowsRead = summary.framesAccepted = summary.readingsAccepted = summary.rowsRefused = 0
    for ack in checkpoint.acked.values():
        _count(summary, ack)
    return summary


def _count(summary: Summary, ack: Ack) -> None:
    summary.rowsRead += ack.read
    summary.framesAccepted += ack.frames
    summary.readingsAccepted += ack.values
    summary.rowsRefused += ack.refused
