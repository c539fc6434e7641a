"""The bench harness (issue 11.1): medians of >= 7 interleaved pairs, one verdict format, exit 1 on
a miss, results merged per bench with the previous run kept for ``make bench-compare``."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path
from types import ModuleType

import pytest

BENCH = Path(__file__).resolve().parents[2] / "bench"


@pytest.fixture
def harness(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> ModuleType:
    spec = importlib.util.spec_from_file_location("bench_harness_under_test", BENCH / "_harness.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses resolve their module
    spec.loader.exec_module(module)
    monkeypatch.setattr(module, "RESULTS", tmp_path / "results.json")
    monkeypatch.setattr(module, "PREVIOUS", tmp_path / "results.previous.json")
    monkeypatch.delenv("BENCH_NO_RESULTS", raising=False)
    return module


def test_pairs_are_interleaved_and_at_least_seven(harness: ModuleType) -> None:
    order: list[str] = []
    pair = harness.paired(lambda: order.append("f"), lambda: order.append("s"), runs=3, warmup=0)
    assert order == ["f", "s"] * 7  # runs below 7 are raised to 7
    assert pair.ratio.runs == pair.floor.runs == 7
    assert pair.floor.low <= pair.floor.median <= pair.floor.high


def test_a_miss_exits_1_and_results_keep_the_run_before(
    harness: ModuleType, capsys: pytest.CaptureFixture[str]
) -> None:
    first = harness.Bench("b")
    first.figure("calls", 3, "calls", at_most=3)
    first.finish()  # meets: returns
    second = harness.Bench("b")
    second.figure("calls", 4, "calls", at_most=3)
    second.figure("info", 1.5, "ms")
    with pytest.raises(SystemExit) as exited:
        second.finish()
    assert exited.value.code == 1
    out = capsys.readouterr().out
    assert "  calls: 4 calls; target <= 3 -> MISSES" in out and "  info: 1.50 ms\n" in out
    results = json.loads(harness.RESULTS.read_text())
    previous = json.loads(harness.PREVIOUS.read_text())
    assert results["b"]["figures"]["calls"]["value"] == 4 and results["b"]["figures"]["calls"]["meets"] is False
    assert previous["b"]["figures"]["calls"]["value"] == 3
    assert results["b"]["commit"] and results["b"]["time"].endswith("Z")


def test_rest_event_is_a_rest_proxy_event(harness: ModuleType) -> None:
    assert harness.rest_event("GET", "/r", "/r", None, {}, {})["httpMethod"] == "GET"
