"""The one bench harness (issue 11): interleaved pairs, medians with ranges, one verdict format,
a non-zero exit on a miss, and results kept as JSON for ``make bench-compare``.

A bench script does::

    bench = Bench("bench_ingest")
    pair = paired(floor, subject, runs=9, number=10)   # floor, subject, floor, subject, ...
    bench.ratio("ingest handler / floor", pair, at_least=0.33)
    bench.figure("definition reads", calls, "calls", at_most=0)
    bench.finish()                                     # prints, writes bench/results.json, exits 1 on a miss

Ratios are "floor time / subject time" (1.0 = as fast as the floor; higher is better), taken per
interleaved pair and then the median of those, so machine noise that hits one pair hits both
of its halves. Every timed figure is the median of at least 7 runs, printed with its min-max.

``bench/results.json`` holds one entry per bench (the last run: its figures, the git commit and
the time); a run merges its own entry and moves the one it replaces into
``bench/results.previous.json``, so ``make bench-compare`` (``bench/compare.py``) can print the
change of each figure against the run before, or against the results.json of any commit
(``BASE=<git ref>``).

``rest_event`` builds the API Gateway event of an in-process handler call.
"""

from __future__ import annotations

import datetime as _dt
import gc
import json
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

BENCH_DIR = Path(__file__).resolve().parent
RESULTS = BENCH_DIR / "results.json"
PREVIOUS = BENCH_DIR / "results.previous.json"
MIN_RUNS = 7


@dataclass(frozen=True)
class Sample:
    """Median and range of ``runs`` measurements (seconds per call, or a ratio)."""

    median: float
    low: float
    high: float
    runs: int

    @classmethod
    def of(cls, values: list[float]) -> Sample:
        return cls(statistics.median(values), min(values), max(values), len(values))


@dataclass(frozen=True)
class Pair:
    floor: Sample
    subject: Sample
    ratio: Sample  # floor / subject, per interleaved pair


def timed(fn: Callable[[], Any], number: int = 1) -> float:
    """Seconds per call of ``number`` consecutive calls."""
    start = time.perf_counter()
    for _ in range(number):
        fn()
    return (time.perf_counter() - start) / number


def paired(
    floor: Callable[[], Any], subject: Callable[[], Any], runs: int = 9, number: int = 1, warmup: int = 1
) -> Pair:
    """Interleave floor and subject ``runs`` times (after ``warmup`` untimed rounds of each)."""
    runs = max(runs, MIN_RUNS)
    for _ in range(warmup):
        floor()
        subject()
    floors: list[float] = []
    subjects: list[float] = []
    for _ in range(runs):
        gc.collect()  # neither half pays for the other's garbage
        floors.append(timed(floor, number))
        gc.collect()
        subjects.append(timed(subject, number))
    return Pair(
        Sample.of(floors), Sample.of(subjects), Sample.of([f / s for f, s in zip(floors, subjects, strict=True)])
    )


def sampled(fn: Callable[[], float], runs: int = MIN_RUNS) -> Sample:
    """Median of ``runs`` calls of ``fn``, which returns one measurement (e.g. ms of a subprocess)."""
    return Sample.of([fn() for _ in range(max(runs, MIN_RUNS))])


@dataclass
class Figure:
    name: str
    value: float
    unit: str
    target: str  # e.g. ">= 0.5", "<= 300", "" (informational)
    meets: bool | None
    low: float | None = None
    high: float | None = None
    runs: int | None = None
    detail: str = ""

    def line(self) -> str:
        spread = f" (median of {self.runs}, range {_num(self.low)}-{_num(self.high)})" if self.runs else ""
        target = f"; target {self.target}" if self.target else ""
        mark = "" if self.meets is None else (" -> MEETS" if self.meets else " -> MISSES")
        detail = f"  [{self.detail}]" if self.detail else ""
        return f"  {self.name}: {_num(self.value)} {self.unit}{spread}{target}{mark}{detail}"


def _num(value: float | None) -> str:
    if value is None:
        return "-"
    if value == int(value) and abs(value) < 1e15:
        return f"{int(value):,}"
    if abs(value) >= 100:
        return f"{value:,.0f}"
    if abs(value) >= 1:
        return f"{value:.2f}"
    return f"{value:.3f}"


@dataclass
class Bench:
    name: str
    figures: list[Figure] = field(default_factory=list)

    def figure(
        self,
        name: str,
        value: float | Sample,
        unit: str,
        *,
        at_least: float | None = None,
        at_most: float | None = None,
        detail: str = "",
    ) -> Figure:
        """Record (and print) one figure; a target is ``at_least`` or ``at_most``, or none (informational)."""
        sample = value if isinstance(value, Sample) else None
        number = sample.median if sample else float(value)  # type: ignore[arg-type]
        if at_least is not None:
            target, meets = f">= {_num(at_least)}", number >= at_least
        elif at_most is not None:
            target, meets = f"<= {_num(at_most)}", number <= at_most
        else:
            target, meets = "", None
        fig = Figure(
            name,
            number,
            unit,
            target,
            meets,
            sample.low if sample else None,
            sample.high if sample else None,
            sample.runs if sample else None,
            detail,
        )
        self.figures.append(fig)
        print(fig.line(), flush=True)
        return fig

    def ratio(self, name: str, pair: Pair, at_least: float, detail: str = "") -> Figure:
        """The ratio floor/subject of an interleaved pair, with both medians in the detail."""
        times = f"subject {pair.subject.median * 1000:.2f} ms, floor {pair.floor.median * 1000:.2f} ms"
        return self.figure(
            name, pair.ratio, "x floor speed", at_least=at_least, detail=f"{times}; {detail}".rstrip("; ")
        )

    def missed(self) -> list[Figure]:
        return [f for f in self.figures if f.meets is False]

    def finish(self) -> None:
        """Write the results, print the misses, and exit 1 if any figure missed its target."""
        write_results(self)
        missed = self.missed()
        if missed:
            print(f"{self.name}: {len(missed)} figure(s) MISS their target: " + "; ".join(f.name for f in missed))
            sys.exit(1)
        print(f"{self.name}: every figure with a target MEETS it")


def git_commit() -> str:
    try:
        out = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=BENCH_DIR, capture_output=True, text=True, check=True
        )
        dirty = subprocess.run(["git", "status", "--porcelain"], cwd=BENCH_DIR, capture_output=True, text=True)
        return out.stdout.strip() + ("-dirty" if dirty.stdout.strip() else "")
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def load(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def write_results(bench: Bench) -> None:
    if os.environ.get("BENCH_NO_RESULTS"):
        return
    results, previous = load(RESULTS), load(PREVIOUS)
    if bench.name in results:
        previous[bench.name] = results[bench.name]
        PREVIOUS.write_text(json.dumps(previous, indent=2, sort_keys=True) + "\n")
    results[bench.name] = {
        "commit": git_commit(),
        "time": _dt.datetime.now(_dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "figures": {f.name: {k: v for k, v in asdict(f).items() if k != "name"} for f in bench.figures},
    }
    RESULTS.write_text(json.dumps(results, indent=2, sort_keys=True) + "\n")


def rest_event(
    method: str, resource: str, path: str, body: str | None, path_params: dict[str, str], authorizer: dict[str, str]
) -> dict[str, Any]:
    """An API Gateway REST (v1) proxy event for in-process handler calls."""
    return {
        "resource": resource,
        "path": path,
        "httpMethod": method,
        "headers": {"Content-Type": "application/json"},
        "multiValueHeaders": {"Content-Type": ["application/json"]},
        "queryStringParameters": None,
        "multiValueQueryStringParameters": None,
        "pathParameters": path_params,
        "stageVariables": None,
        "requestContext": {
            "resourcePath": resource,
            "httpMethod": method,
            "path": "/dev" + path,
            "stage": "dev",
            "requestId": "bench",
            "identity": {"sourceIp": "127.0.0.1"},
            "authorizer": authorizer,
        },
        "body": body,
        "isBase64Encoded": False,
    }
