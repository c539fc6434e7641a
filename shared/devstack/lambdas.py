"""Load and invoke the template's Lambda handlers in this process.

Every function's handler file is called ``app.py``, so handlers are loaded by file path under a
unique module name (``fn_<LogicalId>``) and ``sys.path`` is never touched. A consequence: a
handler cannot import sibling modules of its own folder; shared code belongs in the layers.

Environment: all functions share one process, hence one ``os.environ``. The resolved variables
of every function are applied as their union. Variables that differ between functions (same
name, different value) are logged as a warning; the value of the function loaded last wins.
On AWS each function sees only its own variables.
"""

from __future__ import annotations

import importlib.util
import json
import logging
import os
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterable
from contextvars import ContextVar
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any

from .template import REGION, FunctionSpec, Template

log = logging.getLogger("devstack.lambdas")

Handler = Callable[[Any, Any], Any]

FAKE_CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
}

# Powertools 3.x: POWERTOOLS_METRICS_DISABLED=true silences the EMF output (see
# aws_lambda_powertools/metrics/functions.py:is_metrics_disabled); tracing needs X-Ray otherwise.
LOCAL_RUNTIME_ENV = {
    "POWERTOOLS_TRACE_DISABLED": "true",
    "POWERTOOLS_METRICS_DISABLED": "true",
    "AWS_DEFAULT_REGION": REGION,
    "AWS_REGION": REGION,
    # the provider fakes listen on 127.0.0.1: the local stack's connectors may reach loopback
    # (never in AWS, where the template does not set it; docs/settings.md)
    "INTEGRATIONS_ALLOW_LOOPBACK": "true",
}


class HandlerLoadError(Exception):
    """A function's code could not be loaded (missing folder, import error, no handler)."""


class LambdaContext:
    """The subset of the Lambda context object handlers (and Powertools) use."""

    def __init__(self, spec: FunctionSpec, request_id: str | None = None) -> None:
        self.function_name = spec.function_name
        self.function_version = "$LATEST"
        self.invoked_function_arn = spec.arn
        self.memory_limit_in_mb = spec.memory_size
        self.aws_request_id = request_id or str(uuid.uuid4())
        self.log_group_name = f"/aws/lambda/{spec.function_name}"
        self.log_stream_name = f"{time.strftime('%Y/%m/%d')}/[$LATEST]{uuid.uuid4().hex}"
        self.identity: Any = None
        self.client_context: Any = None
        self.tenant_id: str | None = None
        self._deadline = time.monotonic() + spec.timeout

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.monotonic()) * 1000))


@dataclass
class LocalFunction:
    """A loaded handler plus its spec. ``invoke`` behaves like a synchronous Lambda invoke.

    ``template`` is the (bound) template it was loaded from, when loaded with :func:`load_all`:
    what an observer of :data:`CURRENT_FUNCTION` needs to tell which stack resource a call names.
    """

    spec: FunctionSpec
    module: ModuleType
    handler: Handler
    template: Template | None = None
    invocations: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @property
    def logical_id(self) -> str:
        return self.spec.logical_id

    def invoke(self, event: Any, *, request_id: str | None = None) -> Any:
        """Call the handler with a JSON round-tripped event and return its JSON round-tripped result.

        The round trips reproduce Lambda's serialization: handlers receive only JSON types and a
        non-serializable return value fails here as it would fail on AWS. Exceptions propagate.
        The function's Timeout is reported through the context but not enforced (a thread cannot
        be killed); an overrun is logged.
        """
        with self._lock:
            self.invocations += 1
        context = LambdaContext(self.spec, request_id)
        started = time.monotonic()
        token = CURRENT_FUNCTION.set(self)
        try:
            result = self.handler(json.loads(json.dumps(event)), context)
        finally:
            CURRENT_FUNCTION.reset(token)
            elapsed = time.monotonic() - started
            if elapsed > self.spec.timeout:
                log.warning(
                    "%s ran %.1fs, longer than its Timeout of %ss (AWS would have killed it)",
                    self.logical_id,
                    elapsed,
                    self.spec.timeout,
                )
        try:
            return json.loads(json.dumps(result))
        except (TypeError, ValueError) as exc:
            raise TypeError(f"Unable to marshal response: {exc}") from exc


#: The function whose handler runs in this thread (set by :meth:`LocalFunction.invoke` around the
#: call), else None. All functions share one process here, unlike on AWS; this lets an observer
#: attribute work to the function doing it (tests/iam_audit.py records each function's AWS calls
#: and checks them against its IAM policy).
CURRENT_FUNCTION: ContextVar[LocalFunction | None] = ContextVar("CURRENT_FUNCTION", default=None)


def invoke(function: LocalFunction, event: Any) -> Any:
    return function.invoke(event)


def runtime_environment(endpoint_url: str | None) -> dict[str, str]:
    """Variables the local runtime provides: fake credentials, region, Powertools switches."""
    env = {**FAKE_CREDENTIALS, **LOCAL_RUNTIME_ENV}
    if endpoint_url:
        env["AWS_ENDPOINT_URL"] = endpoint_url
    return env


def merged_function_environment(specs: Iterable[FunctionSpec]) -> dict[str, str]:
    """Union of the functions' environment variables; conflicting values are warned about."""
    merged: dict[str, str] = {}
    origin: dict[str, str] = {}
    for spec in specs:
        for key, value in spec.environment.items():
            if key in merged and merged[key] != value:
                log.warning(
                    "env %s differs between %s (%r) and %s (%r); the process keeps %r",
                    key,
                    origin[key],
                    merged[key],
                    spec.logical_id,
                    value,
                    value,
                )
            merged[key] = value
            origin[key] = spec.logical_id
    return merged


def apply_environment(
    specs: Iterable[FunctionSpec],
    *,
    endpoint_url: str | None = None,
) -> dict[str, str]:
    """Set the functions' variables plus the local runtime variables into ``os.environ``.

    The local runtime wins over the template (e.g. ``AWS_ENDPOINT_URL`` always points at the
    local moto server). Returns the variables set, so callers can record or restore them.
    """
    env = merged_function_environment(specs)
    for key, value in runtime_environment(endpoint_url).items():
        if key in env and env[key] != value:
            log.info("env %s: template value %r replaced by local %r", key, env[key], value)
        env[key] = value
    os.environ.update(env)
    return env


def load_function(spec: FunctionSpec, template: Template | None = None) -> LocalFunction:
    """Import ``spec``'s handler module by file path as ``fn_<LogicalId>`` (fresh each call)."""
    path = spec.module_file
    if not path.is_file():
        raise HandlerLoadError(f"{spec.logical_id}: handler file {path} does not exist")
    module_name = f"fn_{spec.logical_id}"
    module_spec = importlib.util.spec_from_file_location(module_name, path)
    if module_spec is None or module_spec.loader is None:
        raise HandlerLoadError(f"{spec.logical_id}: cannot load {path}")
    module = importlib.util.module_from_spec(module_spec)
    # Registered so dataclasses/pickle/typing can find the module by name; never on sys.path.
    sys.modules[module_name] = module
    try:
        module_spec.loader.exec_module(module)
    except Exception as exc:
        sys.modules.pop(module_name, None)
        raise HandlerLoadError(f"{spec.logical_id}: importing {path} failed: {exc!r}") from exc
    handler = getattr(module, spec.handler_name, None)
    if not callable(handler):
        raise HandlerLoadError(f"{spec.logical_id}: {path} has no callable {spec.handler_name}")
    return LocalFunction(spec=spec, module=module, handler=handler, template=template)


def load_all(template: Template, *, strict: bool = False) -> dict[str, LocalFunction]:
    """Load every function of the template. Unloadable ones are logged and skipped unless strict.

    Call :func:`apply_environment` first: modules often read the environment at import time.
    """
    loaded: dict[str, LocalFunction] = {}
    for spec in template.functions():
        try:
            loaded[spec.logical_id] = load_function(spec, template)
        except HandlerLoadError as exc:
            if strict:
                raise
            log.warning("%s (requests to it will answer 502)", exc)
    return loaded


def handler_for(template: Template, logical_id: str) -> Handler:
    """The handler callable of one function, for unit and integration tests.

    Does not touch ``os.environ``; set the variables the handler needs (e.g. with
    ``apply_environment([template.function(logical_id)])``) before calling this.
    """
    return load_function(template.function(logical_id)).handler
