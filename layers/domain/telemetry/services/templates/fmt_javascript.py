"""``ThingData`` + ``JavaScriptHandler``: run ``handler(payload, context)`` in V8 (mini-racer).

Isolation: every apply gets a **fresh** V8 isolate (``MiniRacer()``), closed afterwards. A pooled
isolate would save ~10 ms per apply but would let one template's globals or prototype changes
leak into the next (another tenant's) run; a fresh isolate also makes recovery after a timeout or
an out-of-memory trivially correct. No host function is exposed (mini-racer only installs a pure-JS
``setTimeout``), and V8 itself has no file or network access.

The handler's output is then mapped exactly like a ``JsonPointer`` template whose records are the
returned array, timestamp pointer ``/timestamp`` (epoch ms number or ISO 8601 string) and one mapping
per declared metric id with pointer ``/metrics/<metricId>``.

``py_mini_racer`` is imported where an isolate is made, never at module level: it is in the
JavaScriptLayer, which only the functions that compile or run a script load (template.yaml), and
listing or reading templates must not need it (nor pay for loading V8 on a cold start).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import orjson

from telemetry.models.metrics import MetricDefinition
from telemetry.models.templates import JavaScriptHandlerSpec
from telemetry.services.templates.engine import Field, compile_field, map_records, usable_metric
from telemetry.services.templates.errors import TemplateExecutionFailed
from telemetry.services.templates.limits import MAX_RECORDS, MAX_SCRIPT_RESULT_CHARS
from telemetry.services.templates.report import ApplyReport, Reading
from telemetry.services.templates.values import MISSING, make_getter, ts_auto

if TYPE_CHECKING:
    from py_mini_racer import JSEvalException, MiniRacer

UNDECLARED_METRIC = "undeclared_metric"
_RESULT_MARK = "\x00RESULT:"
_RESULT_OK = "\x00OK:"
_MB = 1024 * 1024

# Off-heap memory. ArrayBuffer backing stores (typed arrays, DataView's buffers, WebAssembly memories)
# live outside the V8 heap, which mini-racer's hard limit (a heap-size check after GC) does not
# count: with memoryLimitMb=16 one script grew the process by 800 MB. Payload decoders from device
# vendors do use them (a float is `new DataView(new ArrayBuffer(4))`, bytes are a `Uint8Array`),
# so instead of removing them the prelude CHARGES every allocation to a budget of the template's
# ``memoryLimitMb`` bytes in all (cumulative: V8 does not tell JavaScript when a buffer is freed),
# before the allocation happens:
# * ``ArrayBuffer`` and every typed-array constructor are replaced by wrappers that charge the
#   length (``maxByteLength`` for a resizable buffer) and then construct the real one; the real
#   constructors are reachable only from the prelude's closure (each prototype's ``constructor``
#   and the species now name the wrapper, and subclasses extend the wrapper);
# * every built-in that copies a buffer without calling a constructor is wrapped to charge first:
#   ``ArrayBuffer.prototype.slice/transfer/transferToFixedLength``, the typed arrays' ``slice``,
#   ``map``, ``filter``, ``toReversed``, ``toSorted``, ``with``, ``Uint8Array.fromBase64/fromHex``
#   (charges are conservative: the whole source's size; a copy made through a wrapped constructor
#   may be charged twice);
# * lengths are converted once by the wrapper and passed on as numbers, so a ``valueOf`` that
#   answers differently the second time cannot allocate more than was charged;
# * ``SharedArrayBuffer``, ``Atomics`` and ``WebAssembly`` are removed (no decoder needs them, and a
#   WebAssembly memory grows outside any of this).
# Over the budget, the allocation throws a RangeError and the run is ``script-memory``. The list of
# every method of these prototypes is pinned by a unit test, so a V8 upgrade that adds a copying
# method fails the suite until it is reviewed (tests/unit/templates/test_javascript_resources.py).
_REMOVED_GLOBALS = ("SharedArrayBuffer", "Atomics", "WebAssembly")
_TYPED_ARRAYS = (
    "Int8Array", "Uint8Array", "Uint8ClampedArray", "Int16Array", "Uint16Array", "Int32Array",
    "Uint32Array", "Float16Array", "Float32Array", "Float64Array", "BigInt64Array", "BigUint64Array",
)  # fmt: skip
_OVER_BUDGET_FLAG = "\u0000sandboxOverBudget"
_PRELUDE = """(function (removed, typedArrays, limit) {
  "use strict";
  for (const name of removed) { delete globalThis[name]; }
  const left0 = removed.filter(function (name) { return name in globalThis; });
  if (left0.length) { throw new Error("sandbox: cannot remove " + left0.join(", ")); }
  let left = limit, over = false;
  Object.defineProperty(globalThis, "%(flag)s", { get: function () { return over; }, configurable: false });
  function charge(bytes) {
    const n = Number(bytes);
    if (!(n > 0)) { return; }  // 0, negative, NaN: V8 answers those itself
    if (n > left) {
      over = true;
      throw new RangeError("sandbox: the handler's array buffers would exceed its memory limit of " +
        (limit / 1048576) + " MB in all");
    }
    left -= n;
  }
  function define(owner, key, value) {
    Object.defineProperty(owner, key, { value: value, writable: true, configurable: true, enumerable: false });
  }
  function seal(ctor, proto, name, length) {
    Object.defineProperty(ctor, "prototype", { value: proto, writable: false, enumerable: false, configurable: false });
    Object.defineProperty(ctor, "name", { value: name, configurable: true });
    Object.defineProperty(ctor, "length", { value: length, configurable: true });
    define(proto, "constructor", ctor);
  }
  // `cost(self, args)` answers [bytes, args to pass on]; methods made this way are not constructors
  function charged(owner, name, cost) {
    const original = owner[name];
    if (typeof original !== "function") { return; }
    const method = { [name](...args) {
      const [bytes, passed] = cost(this, args);
      charge(bytes);
      return Reflect.apply(original, this, passed);
    } }[name];
    define(owner, name, method);
  }
  const RealArrayBuffer = ArrayBuffer;
  const abLength = Object.getOwnPropertyDescriptor(RealArrayBuffer.prototype, "byteLength").get;
  function isBuffer(value) {
    try { abLength.call(value); return true; } catch (e) { return false; }
  }
  const ArrayBufferWrapper = function (length, options) {
    if (new.target === undefined) { throw new TypeError("Constructor ArrayBuffer requires 'new'"); }
    const n = typeof length === "object" || typeof length === "function" ? Number(length) : length;
    const args = [n];
    let max;
    if (options !== null && typeof options === "object") {
      max = options.maxByteLength;
      if (max !== undefined) {
        max = typeof max === "object" || typeof max === "function" ? Number(max) : max;
        args.push({ maxByteLength: max });
      }
    }
    charge(Math.max(Number(n) || 0, Number(max) || 0));
    return Reflect.construct(RealArrayBuffer, args, new.target === ArrayBufferWrapper ? RealArrayBuffer : new.target);
  };
  seal(ArrayBufferWrapper, RealArrayBuffer.prototype, "ArrayBuffer", 1);
  define(ArrayBufferWrapper, "isView", RealArrayBuffer.isView);
  Object.defineProperty(ArrayBufferWrapper, Symbol.species, { get: function () { return this; }, configurable: true });
  globalThis.ArrayBuffer = ArrayBufferWrapper;
  const bufferProto = RealArrayBuffer.prototype;
  charged(bufferProto, "slice", function (self, args) { return [abLength.call(self), args]; });
  for (const name of ["transfer", "transferToFixedLength"]) {
    charged(bufferProto, name, function (self, args) {
      const size = abLength.call(self);
      if (args[0] === undefined) { return [size, []]; }
      const n = Number(args[0]);
      return [n, [n]];
    });
  }
  const TypedArray = Object.getPrototypeOf(Int8Array);
  const taLength = Object.getOwnPropertyDescriptor(TypedArray.prototype, "byteLength").get;
  for (const name of ["slice", "map", "filter", "toReversed", "toSorted", "with"]) {
    charged(TypedArray.prototype, name, function (self, args) { return [taLength.call(self), args]; });
  }
  for (const name of typedArrays) {
    const Real = globalThis[name];
    if (typeof Real !== "function") { continue; }
    const size = Real.BYTES_PER_ELEMENT;
    const Wrapper = function (...args) {
      if (new.target === undefined) { throw new TypeError("Constructor " + name + " requires 'new'"); }
      const first = args[0];
      if (first !== null && (typeof first === "object" || typeof first === "function")) {
        if (!isBuffer(first)) {  // a typed array, array-like or iterable: copied on the V8 heap first
          const values = Array.from(first);
          charge(values.length * size);
          args = [values];
        }  // else a view on an existing buffer: no allocation
      } else {
        charge(Number(first) * size);
      }
      return Reflect.construct(Real, args, new.target === Wrapper ? Real : new.target);
    };
    Object.setPrototypeOf(Wrapper, TypedArray);  // from, of and the species come from %%TypedArray%%
    seal(Wrapper, Real.prototype, name, 3);
    Object.defineProperty(Wrapper, "BYTES_PER_ELEMENT", { value: size });
    for (const [method, ratio] of [["fromBase64", 0.75], ["fromHex", 0.5]]) {
      if (typeof Real[method] === "function") {
        const original = Real[method];
        define(Wrapper, method, { [method](text, options) {
          if (typeof text === "string") { charge(Math.ceil(text.length * ratio)); }
          return Reflect.apply(original, Real, arguments.length > 1 ? [text, options] : [text]);
        } }[method]);
      }
    }
    globalThis[name] = Wrapper;
  }
  return 0;
})(%(removed)s, %(typed)s, %(limit)d)"""

# The user source becomes the body of ``new Function``: it is parsed on its own, so neither a
# top-level ``return`` nor a ``})`` in it can reach past the checks below. Payload and context
# cross as JSON text parsed by V8. The result is serialized AND measured inside V8, so Python
# only ever receives our own bounded string (a 100 MB string once cost 1.4 GB to parse).
_WRAPPER = """(function () {
const __make = new Function(%(source)s + "\\n;return typeof handler === 'function' ? handler : undefined;");
const __handler = __make();
if (typeof __handler !== "function") {
  throw new TypeError("the source must define function handler(payload, context)");
}
const __result = __handler(JSON.parse(%(payload)s), JSON.parse(%(context)s));
if (Array.isArray(__result) && __result.length > %(max_records)d) {
  return "%(mark)sthe handler returned " + __result.length + " readings; at most %(max_records)d per request";
}
let __text;
let __budget = %(max_chars)d;
function __count(key, value) {
  // Stops a serialization that would grow past the limit BEFORE a huge string is flattened/copied.
  __budget -= key.length + (typeof value === "string" ? value.length : 8);
  if (__budget < 0) { throw new RangeError("__too_large"); }
  return value;
}
try { __text = JSON.stringify(__result, __count); }
catch (e) {
  if (e instanceof RangeError && e.message === "__too_large") {
    return "%(mark)sthe handler result is more than %(max_chars)d characters as JSON";
  }
  return "%(mark)sthe handler result is not JSON-serializable: " + (e && e.message ? e.message : String(e));
}
if (__text === undefined) { return "%(mark)sthe handler result is not JSON-serializable: handler returned undefined or a function"; }
if (__text.length > %(max_chars)d) {
  return "%(mark)sthe handler result is " + __text.length + " characters as JSON; at most %(max_chars)d";
}
return "%(ok)s" + __text;
})()"""


def _js_string(text: str) -> str:
    """A JSON string literal is a valid JavaScript string literal (ES2019+)."""
    return orjson.dumps(text).decode()


def run_handler(spec: JavaScriptHandlerSpec, payload: Any, context: Mapping[str, Any]) -> list[Any]:
    """Execute the handler once; the returned readings array, or :class:`TemplateExecutionFailed`."""
    from py_mini_racer import JSEvalException, JSOOMException, JSTimeoutException, MiniRacer

    code = _WRAPPER % {
        "source": _js_string(spec.source),
        "payload": _js_string(orjson.dumps(payload).decode()),
        "context": _js_string(orjson.dumps(dict(context)).decode()),
        "mark": "\\u0000RESULT:",
        "ok": "\\u0000OK:",
        "max_records": MAX_RECORDS,
        "max_chars": MAX_SCRIPT_RESULT_CHARS,
    }
    prelude = _PRELUDE % {
        "removed": orjson.dumps(_REMOVED_GLOBALS).decode(),
        "typed": orjson.dumps(_TYPED_ARRAYS).decode(),
        "limit": spec.memoryLimitMb * _MB,
        "flag": _OVER_BUDGET_FLAG,
    }
    with MiniRacer() as ctx:
        ctx.eval(prelude, timeout_sec=1.0)
        try:
            out = ctx.eval(code, timeout_sec=spec.timeoutMs / 1000, max_memory=spec.memoryLimitMb * _MB)
        except JSTimeoutException:
            _drain(ctx)
            raise TemplateExecutionFailed(
                "script-timeout", f"the handler did not finish within {spec.timeoutMs} ms"
            ) from None
        except JSOOMException:
            raise TemplateExecutionFailed(
                "script-memory", f"the handler exceeded its memory limit of {spec.memoryLimitMb} MB"
            ) from None
        except JSEvalException as exc:
            if ctx.was_hard_memory_limit_reached() or _over_budget(ctx):
                raise TemplateExecutionFailed(
                    "script-memory", f"the handler exceeded its memory limit of {spec.memoryLimitMb} MB"
                ) from None
            raise TemplateExecutionFailed("script-error", _js_message(exc)) from None
    if not isinstance(out, str):
        raise TemplateExecutionFailed("script-result", "the handler result could not be serialized")
    if out.startswith(_RESULT_MARK):
        raise TemplateExecutionFailed("script-result", out[len(_RESULT_MARK) :][:500])
    if not out.startswith(_RESULT_OK):  # a top-level `return "text"` in the source skips the wrapper
        raise TemplateExecutionFailed(
            "script-result", "the handler result is not JSON: does the source return at its top level?"
        )
    try:
        result = orjson.loads(out[len(_RESULT_OK) :])
    except orjson.JSONDecodeError:
        raise TemplateExecutionFailed("script-result", "the handler result is not JSON") from None
    if type(result) is not list:
        kind = "null" if result is None else type(result).__name__
        raise TemplateExecutionFailed("script-result", f"the handler must return an array of readings, got {kind}")
    if len(result) > MAX_RECORDS:
        raise TemplateExecutionFailed(
            "script-result", f"the handler returned {len(result)} readings; at most {MAX_RECORDS} per request"
        )
    return result


def _over_budget(ctx: MiniRacer) -> bool:
    """Whether the script was refused an array buffer over its budget (the prelude's flag)."""
    try:
        return ctx.eval(f'globalThis["{_OVER_BUDGET_FLAG}"] === true', timeout_sec=1.0) is True
    except Exception:  # the isolate is unusable: not the budget's doing
        return False


def _drain(ctx: MiniRacer) -> None:
    """Let the terminated evaluation settle before the isolate is closed.

    After a timeout mini-racer cancels the evaluation, but V8 still reports its end through a
    callback; closing at once makes that callback hit a closed event loop ("Exception ignored ...").
    A trivial evaluation queues behind it, so when it returns the isolate is idle (and shown usable).
    """
    try:
        ctx.eval("0", timeout_sec=1.0)
    except Exception:  # best effort: the isolate is discarded anyway
        return


def _js_message(exc: JSEvalException) -> str:
    """The JS error line (``Error: boom``) without the echoed source excerpt, bounded."""
    text = str(exc)
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
    message = next((ln for ln in lines if _looks_like_error(ln)), lines[-1] if lines else "script failed")
    return message[:500]


def _looks_like_error(line: str) -> bool:
    head = line.split(":", 1)[0]
    return head.endswith("Error") or head in {"Uncaught", "Exception"}


def apply_javascript(
    spec: JavaScriptHandlerSpec,
    doc: Any,
    metrics: Mapping[str, MetricDefinition],
    on_type: set[str],
    report: ApplyReport,
    context: Mapping[str, Any],
) -> list[Reading]:
    returned = run_handler(spec, doc, context)
    declared = set(spec.metricIds)
    records: list[Any] = []
    for index, item in enumerate(returned):
        if type(item) is not dict or type(item.get("metrics")) is not dict:
            report.skip(index, "invalid_record", item, with_value=True)
            records.append(MISSING)  # keeps indexes aligned; skipped below as missing_timestamp
            continue
        for mid in item["metrics"]:
            if mid not in declared:
                key = (str(mid), UNDECLARED_METRIC)
                report.fieldsInvalid[key] = report.fieldsInvalid.get(key, 0) + 1
        records.append(item)
    fields: list[Field] = []
    for mid in spec.metricIds:
        metric = metrics.get(mid)
        if metric is None or not usable_metric(metric) or mid not in on_type:
            report.metricsSkippedNotOnTtd.append(mid)
            continue
        fields.append(compile_field(metric, None, make_getter(["metrics", mid])))
    valid_idx = [i for i, r in enumerate(records) if r is not MISSING]
    if len(valid_idx) == len(records):
        return map_records(records, "timestamp", make_getter(["timestamp"]), ts_auto, fields, report)
    # Map the well-formed items only, then put their original indexes back into the report.
    sub_report = ApplyReport(report.previewOnly, report.templateId, report.templateRevision)
    sub_report.fieldsInvalid = report.fieldsInvalid
    readings = map_records(
        [records[i] for i in valid_idx], "timestamp", make_getter(["timestamp"]), ts_auto, fields, sub_report
    )
    for entry in sub_report.recordsSkipped:
        entry["index"] = valid_idx[entry["index"]]
    report.recordsSkipped.extend(sub_report.recordsSkipped)
    report.recordsSkipped.sort(key=lambda e: e["index"])
    report.recordsParsed = len(records)
    report.readingsWritten = sub_report.readingsWritten
    report.metricValuesWritten = sub_report.metricValuesWritten
    report.fieldsSkippedMissing.update(sub_report.fieldsSkippedMissing)
    return readings
