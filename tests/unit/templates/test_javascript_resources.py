"""A JavaScriptHandler can reach no resource beyond its limits (issue 8.10).

Each script runs in a child process so that a sandbox that fails to bound memory cannot take pytest
down with it; the child reports its peak RSS growth (``ru_maxrss``) and how the apply ended.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from typing import Any

import pytest

#: growth a bounded run may show: the isolate's heap limit (16 MB) plus V8/Python overheads
MAX_GROWTH_MB = 150

_CHILD = textwrap.dedent(
    """
    import json, resource, sys
    from telemetry.models.templates import JavaScriptHandlerSpec
    from telemetry.services.templates.errors import TemplateExecutionFailed
    from telemetry.services.templates.fmt_javascript import run_handler

    def peak_mb():
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024

    spec = JavaScriptHandlerSpec(source=sys.argv[1], metricIds=["m"], timeoutMs=4000, memoryLimitMb=16)
    run_handler(JavaScriptHandlerSpec(source="function handler(){return []}", metricIds=["m"]), {}, {})
    before = peak_mb()
    try:
        out = run_handler(spec, {}, {"templateId": "tmpl_x"})
        outcome = {"ok": len(out)}
    except TemplateExecutionFailed as exc:
        outcome = {"failed": exc.reason if hasattr(exc, "reason") else str(exc), "text": str(exc)}
    print(json.dumps({"growth": peak_mb() - before, **outcome}))
    """
)


def _run(source: str) -> dict[str, Any]:
    proc = subprocess.run(
        [sys.executable, "-c", _CHILD, source], capture_output=True, text=True, timeout=120, check=False
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    result: dict[str, Any] = json.loads(proc.stdout.strip().splitlines()[-1])
    return result


OFF_HEAP = {
    "ArrayBuffer": "new Uint8Array(new ArrayBuffer(S)).fill(1)",
    "typed array": "new Float64Array(S / 8).fill(1)",
    "SharedArrayBuffer": "new Uint8Array(new SharedArrayBuffer(S)).fill(1)",
    "DataView": "new DataView(new ArrayBuffer(S))",
    "WebAssembly.Memory": "new Uint8Array(new WebAssembly.Memory({initial: 160, maximum: 65536}).buffer).fill(1)",
}


@pytest.mark.parametrize("expr", OFF_HEAP.values(), ids=OFF_HEAP.keys())
def test_off_heap_allocations_cannot_grow_the_process(expr: str) -> None:
    source = f"""
    function handler() {{
      const S = 20 * 1024 * 1024, keep = [];
      for (let i = 0; i < 40; i++) keep.push({expr});
      return [];
    }}"""
    result = _run(source)
    assert result["growth"] < MAX_GROWTH_MB, result
    assert "failed" in result, result  # the constructor is unavailable: a script error, not 800 MB


def test_a_huge_result_is_refused_before_python_parses_it() -> None:
    source = 'function handler() { return [{timestamp: 0, metrics: {m: "x".repeat(100 * 1024 * 1024)}}]; }'
    result = _run(source)
    assert result["growth"] < MAX_GROWTH_MB, result
    assert "failed" in result and "result" in str(result["text"]), result


def test_too_many_readings_are_refused_inside_v8() -> None:
    source = "function handler() { return Array.from({length: 2000000}, () => 0); }"
    result = _run(source)
    assert "failed" in result and "2000000" in str(result["text"]), result
    assert result["growth"] < MAX_GROWTH_MB, result


def test_a_top_level_return_cannot_bypass_the_checks() -> None:
    """The source is a function body of its own: a top-level ``return`` or a ``})`` cannot reach the caller."""
    for source in ('return "x".repeat(100 * 1024 * 1024);', '}); return "x".repeat(100 * 1024 * 1024); (function () {'):
        result = _run(source)
        assert "failed" in result, (source, result)
        assert result["growth"] < MAX_GROWTH_MB, result


def test_a_normal_handler_still_works() -> None:
    result = _run("function handler(p, c) { return [{timestamp: 0, metrics: {m: c.templateId.length}}]; }")
    assert result == {"growth": result["growth"], "ok": 1}
