"""Documented means answerable, answerable means documented: every status the suite sees, against
shared/openapi.json.

A pytest plugin (tests/conftest.py registers it), built as tests/iam_audit.py is. While the tests
run it records each (operation, status) answered for a route of template.yaml, wherever a request
goes through:

- the local gateway (``devstack.gateway.LocalGateway``), which both the running stack (``make run``,
  e2e, contract and schemathesis tests) and the in-process ``Platform.call`` of the integration
  tests use: its ``handle``, for every request that resolves to a route, whoever answers it (the
  gateway's 413 and 429, the authorizer's 401/403, the handler, or the gateway's 502 when the
  handler raised);
- ``devstack.lambdas.LocalFunction.invoke`` called directly with an API Gateway proxy event (the
  sample-event tests), which no gateway sees.

Each worker writes what it saw to ``$TELEMETRY_STATUS_AUDIT_DIR``; the controller's
``pytest_sessionfinish`` merges them and fails the run (exit status 1, the report in the terminal
summary):

- when an answered status is not documented for its operation (reachable but undocumented), always;
- when a documented status was never answered, only after a full run (every test module of the
  integration, e2e and contract suites selected, no ``-k``, all passed): a partial run proves
  nothing about what is unreachable. :data:`UNOBSERVED_ALLOWED` lists the few documented statuses
  the suite does not produce on purpose, each with its reason.

``TELEMETRY_STATUS_AUDIT_REPORT=<file>`` also writes the merged observations there as JSON.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import tempfile
import threading
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.iam_audit import full_run, read, write

REPO = Path(__file__).resolve().parents[1]
TEMPLATE = REPO / "template.yaml"
OPENAPI = REPO / "shared" / "openapi.json"
DIR_ENV = "TELEMETRY_STATUS_AUDIT_DIR"
REPORT_ENV = "TELEMETRY_STATUS_AUDIT_REPORT"
#: a full run fails when a documented status was never answered; ``=0`` only lists them (to see the
#: whole list while changing the document)
STRICT = os.environ.get("TELEMETRY_STATUS_AUDIT_STRICT", "1") != "0"
#: the suites whose full run proves a documented status unanswered
FULL_RUN_SUITES = ("tests/integration", "tests/e2e", "tests/contract")

#: documented statuses no test produces, each with its reason: (method, path) -> status -> reason;
#: ``*`` for every operation
UNOBSERVED_ALLOWED: dict[tuple[str, str], dict[int, str]] = {
    ("*", "*"): {
        503: (
            "a dependency unavailable (DynamoDB/SQS throttling or an outage, telemetry.errors.Unavailable): "
            "moto never fails; the mapping is tested once per dialect in tests/unit"
        ),
    },
}


@dataclass(frozen=True, order=True)
class Seen:
    method: str  # lower case, as in the document
    path: str  # the route's resource path, as in the document
    status: int


class Recorder:
    """This process's observations; thread-safe (the gateway serves requests in threads)."""

    def __init__(self) -> None:
        self.seen: set[Seen] = set()
        self._lock = threading.Lock()
        #: a test that breaks the deployment on purpose (a missing layer) answers what no client
        #: can be answered: not an observation of the document's promise
        self.paused = False

    @contextlib.contextmanager
    def unrecorded(self) -> Iterator[None]:
        self.paused = True
        try:
            yield
        finally:
            self.paused = False

    def add(self, template: Any, method: str, path: str, status: int) -> None:
        if self.paused:
            return
        if template is None or Path(getattr(template, "path", "") or "").resolve() != TEMPLATE:
            return  # another template's route (the devstack tests' fixtures)
        with self._lock:
            self.seen.add(Seen(method.lower(), path, int(status)))


RECORDER = Recorder()


def install(recorder: Recorder = RECORDER) -> None:
    """Wrap the gateway's request handling and direct invocations (idempotent)."""
    from devstack.gateway import LocalGateway
    from devstack.lambdas import LocalFunction

    if getattr(LocalGateway, "_status_audit", False):
        return
    handle, invoke = LocalGateway.handle, LocalFunction.invoke

    def audited_handle(self: Any, request: Any, *args: Any, **kwargs: Any) -> Any:
        response = handle(self, request, *args, **kwargs)
        resolved = self.resolve(request)
        if resolved is not None:  # the gateway's 413 and 429 too, and the authorizer's 401/403
            route = resolved[0]
            method = request.method if route.method == "ANY" else route.method
            recorder.add(self.template, method, route.path, response.status)
        return response

    def audited_invoke(self: Any, event: Any, *args: Any, **kwargs: Any) -> Any:
        result = invoke(self, event, *args, **kwargs)
        if isinstance(event, dict) and "httpMethod" in event and "resource" in event and isinstance(result, dict):
            status = result.get("statusCode")
            if isinstance(status, int):
                recorder.add(self.template, str(event["httpMethod"]), str(event["resource"]), status)
        return result

    LocalGateway.handle = audited_handle  # type: ignore[method-assign]
    LocalFunction.invoke = audited_invoke  # type: ignore[method-assign]
    LocalGateway._status_audit = True  # type: ignore[attr-defined]


# --------------------------------------------------------------------------- the verdict


def documented(doc: Mapping[str, Any]) -> dict[tuple[str, str], set[int]]:
    """(method, path) -> the statuses the document declares for it."""
    return {
        (method, path): {int(s) for s in operation["responses"]}
        for path, item in doc["paths"].items()
        for method, operation in item.items()
    }


def _allowed_unobserved(method: str, path: str, status: int) -> bool:
    return any(
        status in UNOBSERVED_ALLOWED.get(key, {}) for key in ((method, path), ("*", "*"), (method, "*"), ("*", path))
    )


@dataclass
class Verdict:
    undocumented: list[Seen]  # answered, not in the document
    unobserved: list[Seen]  # in the document, never answered (checked after a full run only)
    operations: dict[tuple[str, str], str]  # (method, path) -> operationId

    @property
    def ok(self) -> bool:
        """Answered but undocumented always fails; documented but never answered fails a full run
        (unless ``TELEMETRY_STATUS_AUDIT_STRICT=0``), so the document's refusals, universal by
        dialect or declared by each handler (``devstack/openapi._statuses``), are each produced."""
        return not self.undocumented and not (self.unobserved and STRICT)

    def report(self) -> str:
        def name(s: Seen) -> str:
            return f"{self.operations.get((s.method, s.path), '?')} ({s.method.upper()} {s.path})"

        lines = [f"ANSWERED, NOT DOCUMENTED {name(s)}: {s.status}" for s in self.undocumented]
        lines += [f"DOCUMENTED, NEVER ANSWERED {name(s)}: {s.status}" for s in self.unobserved]
        return "\n".join(lines)


def audit(seen: Iterable[Seen], doc: Mapping[str, Any], *, check_unobserved: bool) -> Verdict:
    declared = documented(doc)
    operations = {
        (method, path): str(op.get("operationId", "?"))
        for path, item in doc["paths"].items()
        for method, op in item.items()
    }
    seen = set(seen)
    # a method the document does not declare (OPTIONS preflights) is the gateway's, not an operation
    undocumented = sorted(
        s for s in seen if (s.method, s.path) in declared and s.status not in declared[(s.method, s.path)]
    )
    unobserved: list[Seen] = []
    if check_unobserved:
        for (method, path), statuses in sorted(declared.items()):
            for status in sorted(statuses):
                s = Seen(method, path, status)
                if s not in seen and not _allowed_unobserved(method, path, status):
                    unobserved.append(s)
    return Verdict(undocumented, unobserved, operations)


# --------------------------------------------------------------------------- recording across workers


# --------------------------------------------------------------------------- pytest hooks

_OWNS_DIR = pytest.StashKey[bool]()
_SELECTED = pytest.StashKey[set[str]]()
_VERDICT = pytest.StashKey[Verdict]()
_FULL = pytest.StashKey[bool]()


def pytest_configure(config: pytest.Config) -> None:
    if not hasattr(config, "workerinput") and DIR_ENV not in os.environ:
        os.environ[DIR_ENV] = tempfile.mkdtemp(prefix="status-audit-")
        config.stash[_OWNS_DIR] = True
    install()


def pytest_collection_finish(session: pytest.Session) -> None:
    session.config.stash[_SELECTED] = {item.nodeid.split("::", 1)[0] for item in session.items}


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    if not os.environ.get(DIR_ENV) or not Path(os.environ[DIR_ENV]).is_dir():
        return
    directory = Path(os.environ[DIR_ENV])
    config = session.config
    name = config.workerinput["workerid"] if hasattr(config, "workerinput") else "main"
    write(directory, name, RECORDER.seen, config.stash.get(_SELECTED, set()))
    if hasattr(config, "workerinput"):
        return
    seen, selected = read(directory, Seen)
    if config.stash.get(_OWNS_DIR, False):
        shutil.rmtree(directory, ignore_errors=True)
    doc = json.loads(OPENAPI.read_text(encoding="utf-8"))
    full = exitstatus == 0 and full_run(selected, config, FULL_RUN_SUITES)
    report = os.environ.get(REPORT_ENV)
    if report:
        Path(report).write_text(
            json.dumps({"full_run": full, "seen": [s.__dict__ for s in sorted(seen)]}, indent=1), encoding="utf-8"
        )
    if not seen:
        return
    verdict = audit(seen, doc, check_unobserved=full)
    config.stash[_VERDICT] = verdict
    config.stash[_FULL] = full
    if not verdict.ok:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


def pytest_terminal_summary(terminalreporter: Any, config: pytest.Config) -> None:
    verdict = config.stash.get(_VERDICT, None)
    if verdict is None:
        return
    if verdict.ok:
        if verdict.unobserved:
            scope = f"; {len(verdict.unobserved)} documented statuses were never answered (TELEMETRY_STATUS_AUDIT_STRICT=1 lists them)"
        elif config.stash.get(_FULL, False):
            scope = " and every documented one was answered"
        else:
            scope = " (partial run)"
        terminalreporter.write_line(f"status audit: every answered status is documented{scope}")
        return
    terminalreporter.section("status audit (tests/status_audit.py): answered statuses against openapi.json", red=True)
    terminalreporter.write_line(verdict.report())
