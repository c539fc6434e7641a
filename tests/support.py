"""Helpers shared by the HTTP-level tests (end-to-end and contract)."""

from __future__ import annotations

import io
import os
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, redirect_stdout
from pathlib import Path
from typing import Any

from devstack.stack import LocalStack, default_state_dir

REPO = Path(__file__).resolve().parents[1]


@contextmanager
def running_stack(
    env: dict[str, str] | None = None,
    stack_name: str = "e2e",
    *,
    schedules: bool = False,
    speedup: float = 1.0,
    state_file: bool = False,
) -> Iterator[LocalStack]:
    """The whole platform as `make run` starts it, on a free port.

    moto runs in a child process, so a stack never collides with the in-process ``mock_aws`` of
    integration tests on the same worker; the functions run in this process, and the stack drops
    their cached composition root when it starts and once it has stopped.
    """
    from telemetry.bootstrap import container

    stack = LocalStack(
        REPO / "template.yaml",
        port=0,
        moto_mode="process",
        schedules=schedules,
        speedup=speedup,
        stack_name=stack_name,
        # a state file lets `telemetry-dev key/pull --port` find this stack, as they find `make run`'s
        state_dir=default_state_dir(REPO / "template.yaml") if state_file else None,
    )
    with stack:
        os.environ.update(env or {})  # restored by the stack on exit
        container.cache_clear()  # again: ``env`` may change what the container is built from
        yield stack


def issue_key(org: str, scopes: list[str] | None = None) -> str:
    """A platform API key for ``org``, issued as `make key` does (against the running stack)."""
    from telemetry.bootstrap import bootstrap
    from telemetry.settings import Settings

    return bootstrap(Settings.from_env()).keys.issue(org, scopes=scopes).key


def eventually(check: Callable[[], Any], timeout: float = 15.0) -> Any:
    """Poll until ``check`` returns a truthy value (the queue poller writes asynchronously)."""
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result or time.monotonic() > deadline:
            return result
        time.sleep(0.1)


def integrations_template(owner_key: str) -> str:
    """An empty ``Integrations`` template of the key's organization, stored directly: until the
    target's validation lands, ``POST /v2/templates`` refuses it as not supported yet."""
    import uuid

    from telemetry.bootstrap import container
    from telemetry.models.templates import Template, TemplateFormat, TemplateTarget
    from telemetry.repositories.templates import TemplatesRepository

    org = container().keys.authenticate(owner_key).org_id
    template_id = f"tmpl_tm{uuid.uuid4().hex[:18]}"
    stamp = "2026-12-02T18:00:00Z"
    template = Template(
        id=template_id,
        revision=1,
        createdAt=stamp,
        updatedAt=stamp,
        name="geotab",
        target=TemplateTarget.Integrations,
        format=TemplateFormat.JsonPointer,
        spec={},
    )
    TemplatesRepository(container().store).create(org, template)
    return template_id


def openapi_document() -> dict[str, Any]:
    import json

    return dict(json.loads((REPO / "shared" / "openapi.json").read_text(encoding="utf-8")))


def assert_documented_answer(
    document: dict[str, Any], method: str, path: str, status: int, content_type: str | None, body: Any
) -> None:
    """The answer's status is one ``shared/openapi.json`` documents for the operation, with that
    media type, and its body matches the documented schema (JSON Schema 2020-12, refs resolved)."""
    from jsonschema import Draft202012Validator

    responses = document["paths"][path][method.lower()]["responses"]
    assert str(status) in responses, f"{method} {path}: {status} is not documented ({sorted(responses)})"
    content = responses[str(status)].get("content")
    if not content:
        assert not body, f"{method} {path}: {status} documents no body"
        return
    media = (content_type or "").split(";")[0].strip()
    assert media in content, f"{method} {path}: {status} answered {media!r}, documented {sorted(content)}"
    schema = {**content[media]["schema"], "components": document["components"]}
    errors = sorted(Draft202012Validator(schema).iter_errors(body), key=str)
    assert not errors, f"{method} {path}: the body does not match the documented schema: {errors[0].message}"


class _CallerOnly(io.TextIOBase):
    """``sys.stdout`` while the CLI runs: what the calling thread writes is the CLI's output; what
    other threads write goes where it went before. The local stack's functions run in this
    process's threads (the gateway's, the writer's poller), and powertools prints a function's
    metrics to ``sys.stdout`` as EMF lines; in a separate process, as for a user, they never reach
    the CLI's stdout. Without this a writer's EMF line landed in a parsed answer now and then
    (``Extra data: line 2 column 1 (char 268)`` in a fresh-clone run)."""

    def __init__(self, other: Any) -> None:
        self.caller, self.other, self.text = threading.current_thread(), other, io.StringIO()

    def write(self, s: str) -> int:
        return (self.text if threading.current_thread() is self.caller else self.other).write(s)

    def flush(self) -> None:
        self.other.flush()

    def isatty(self) -> bool:
        return False


@contextmanager
def callers_stdout() -> Iterator[io.StringIO]:
    """What the calling thread writes to ``sys.stdout`` meanwhile: a CLI's own output, without the
    in-process stack's (see :class:`_CallerOnly`)."""
    stdout = _CallerOnly(sys.stdout)
    with redirect_stdout(stdout):
        yield stdout.text
