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
    assert "failed" in result, result  # over the budget (or unavailable): a script failure, not 800 MB


#: ways to copy an already allocated 8 MB buffer without calling a constructor the sandbox wraps:
#: each is retained 40 times (320 MB) unless every allocation path is charged to the budget
COPIES = {
    "ArrayBuffer slice, constructor removed": "(() => { base.buffer.constructor = undefined; return base.buffer.slice(0); })()",
    "typed array slice, constructor removed": "(() => { base.constructor = undefined; return base.slice(); })()",
    "typed array map": "base.map((x) => x + 1)",
    "typed array filter": "base.filter(() => true)",
    "toReversed": "base.toReversed()",
    "toSorted": "base.toSorted()",
    "with": "base.with(0, 1)",
    "transfer": "new Uint8Array(8 * 1024 * 1024).buffer.transfer(8 * 1024 * 1024)",
    "from": "Uint8Array.from(base)",
    "of a subclass": "(() => { class Big extends Uint8Array {} return new Big(base); })()",
    "via Reflect.construct": "Reflect.construct(Uint8Array, [8 * 1024 * 1024], Object)",
    "the intrinsic through an instance": "new (new Uint8Array(1).constructor)(8 * 1024 * 1024)",
    "the intrinsic through the prototype chain": "new (Object.getPrototypeOf(Uint8Array).prototype.constructor === undefined ? Uint8Array : Object.getPrototypeOf(new Uint8Array(1)).constructor)(8 * 1024 * 1024)",
    "resizable buffer grown": "(() => { const b = new ArrayBuffer(1, {maxByteLength: 8 * 1024 * 1024}); b.resize(8 * 1024 * 1024); return b; })()",
}


@pytest.mark.parametrize("expr", COPIES.values(), ids=COPIES.keys())
def test_copies_of_allowed_buffers_are_charged_too(expr: str) -> None:
    source = f"""
    function handler() {{
      const base = new Uint8Array(8 * 1024 * 1024).fill(7), keep = [];
      for (let i = 0; i < 40; i++) keep.push({expr});
      return [];
    }}"""
    result = _run(source)
    assert result["growth"] < MAX_GROWTH_MB, result
    assert result.get("failed") == "script-memory", result


#: how payload decoders from device vendors decode IEEE 754 floats and multi-byte integers
VENDOR_STYLE = """
function bytesToFloat32LE(bytes, at) {
  const view = new DataView(new ArrayBuffer(4));
  bytes.slice(at, at + 4).forEach(function (b, i) { view.setUint8(i, b); });
  return view.getFloat32(0, true);
}
function bytesToDoubleBE(bytes) { return new DataView(new Uint8Array(bytes).buffer).getFloat64(0, false); }
function decodeUplink(input) {
  const u = Uint8Array.from(input.bytes);
  return { data: {
    temperature: Math.round(bytesToFloat32LE(input.bytes, 0) * 100) / 100,
    latitude: bytesToDoubleBE(input.bytes.slice(4, 12)),
    counter: new DataView(u.buffer, 12, 2).getUint16(0, false),
    checksum: u.subarray(0, 12).reduce(function (a, b) { return (a + b) & 0xff; }, 0),
  }, warnings: [], errors: [] };
}
function handler(payload) {
  const out = [];
  for (let i = 0; i < 1000; i++) {
    const d = decodeUplink({ bytes: payload.bytes, fPort: 1 }).data;
    out.push({ timestamp: i, metrics: { m: d.temperature + d.latitude + d.counter + d.checksum } });
  }
  return out;
}
"""


def test_vendor_decoders_using_typed_arrays_and_dataview_work() -> None:
    """Real payload decoders build floats with ArrayBuffer + DataView and read bytes through Uint8Array."""
    import struct

    from telemetry.models.templates import JavaScriptHandlerSpec
    from telemetry.services.templates.fmt_javascript import run_handler

    raw = struct.pack("<f", 21.5) + struct.pack(">d", 59.3293) + struct.pack(">H", 513)
    spec = JavaScriptHandlerSpec(source=VENDOR_STYLE, metricIds=["m"], memoryLimitMb=16)
    readings = run_handler(spec, {"bytes": list(raw)}, {})
    checksum = sum(raw[:12]) & 0xFF
    assert len(readings) == 1000
    assert readings[0]["metrics"]["m"] == pytest.approx(21.5 + 59.3293 + 513 + checksum)


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


#: every property of the buffer built-ins, each reviewed: a method not listed here may copy a buffer
#: past the budget (a V8 upgrade adds one): review it, wrap it in the prelude if it allocates, list it
REVIEWED_BUFFER_PROPERTIES = {
    "ArrayBuffer": "isView,length,name,prototype",
    "ArrayBuffer.prototype": "byteLength,constructor,detached,maxByteLength,resizable,resize,slice,transfer,"
    "transferToFixedLength",
    "TypedArray": "from,length,name,of,prototype",
    "TypedArray.prototype": "at,buffer,byteLength,byteOffset,constructor,copyWithin,entries,every,fill,filter,find,"
    "findIndex,findLast,findLastIndex,forEach,includes,indexOf,join,keys,lastIndexOf,length,map,reduce,"
    "reduceRight,reverse,set,slice,some,sort,subarray,toLocaleString,toReversed,toSorted,toString,values,with",
    "Uint8Array": "BYTES_PER_ELEMENT,fromBase64,fromHex,length,name,prototype",
    "Uint8Array.prototype": "BYTES_PER_ELEMENT,constructor,setFromBase64,setFromHex,toBase64,toHex",
    "Float64Array": "BYTES_PER_ELEMENT,length,name,prototype",
    "Float64Array.prototype": "BYTES_PER_ELEMENT,constructor",
}


def test_every_buffer_builtin_of_this_v8_has_been_reviewed() -> None:
    from py_mini_racer import MiniRacer

    objects = {
        "ArrayBuffer": "ArrayBuffer",
        "ArrayBuffer.prototype": "ArrayBuffer.prototype",
        "TypedArray": "Object.getPrototypeOf(Int8Array)",
        "TypedArray.prototype": "Object.getPrototypeOf(Int8Array).prototype",
        "Uint8Array": "Uint8Array",
        "Uint8Array.prototype": "Uint8Array.prototype",
        "Float64Array": "Float64Array",
        "Float64Array.prototype": "Float64Array.prototype",
    }
    with MiniRacer() as ctx:
        found = {
            name: ",".join(sorted(str(ctx.eval(f"Object.getOwnPropertyNames({expr}).join()")).split(",")))
            for name, expr in objects.items()
        }
    assert found == REVIEWED_BUFFER_PROPERTIES


def test_the_sandboxed_builtins_still_behave_like_the_real_ones() -> None:
    from telemetry.models.templates import JavaScriptHandlerSpec
    from telemetry.services.templates.fmt_javascript import run_handler

    checks = [
        "new Uint8Array([1, 2, 3]) instanceof Uint8Array",
        "new Uint8Array(2).constructor === Uint8Array && Uint8Array.name === 'Uint8Array'",
        "Object.getPrototypeOf(new ArrayBuffer(1)) === ArrayBuffer.prototype",
        "new Uint8Array(4).buffer instanceof ArrayBuffer && ArrayBuffer.isView(new DataView(new ArrayBuffer(2)))",
        "new Uint8Array([1, 2, 3]).slice(1).join() === '2,3' && new Uint8Array([3, 1]).toSorted().join() === '1,3'",
        "Uint8Array.from([1, 2]).map((x) => x * 2).join() === '2,4' && Uint16Array.of(7).length === 1",
        "(() => { class B extends Uint8Array {} const b = new B(2); return b instanceof B && b.slice(0) instanceof B; })()",
        "(() => { try { Uint8Array(2); return false; } catch (e) { return e instanceof TypeError; } })()",
        "(() => { try { new Uint8Array(-1); return false; } catch (e) { return e instanceof RangeError; } })()",
        "Uint8Array.fromHex('0aff').join() === '10,255' && new Uint8Array([1, 255]).toHex() === '01ff'",
        "new ArrayBuffer(8, {maxByteLength: 16}).resizable === true",
        "typeof SharedArrayBuffer === 'undefined' && typeof WebAssembly === 'undefined' && typeof Atomics === 'undefined'",
    ]
    source = (
        "function handler() { return [{timestamp: 0, metrics: {m: ["
        + ", ".join(checks)
        + "].map(Number).join('')}}]; }"
    )
    (reading,) = run_handler(JavaScriptHandlerSpec(source=source, metricIds=["m"]), {}, {})
    assert reading["metrics"]["m"] == "1" * len(checks)
