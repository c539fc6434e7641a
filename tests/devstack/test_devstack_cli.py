"""telemetry-dev: ``run`` prints a working key and stops cleanly; ``key`` targets the running stack."""

from __future__ import annotations

import json
import os
import shutil
import signal
import sys
import threading
import time
import types
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import requests
from devstack.cli import deployed_environment, example_path, main
from devstack.template import Template

FIXTURE_TEMPLATE = Path(__file__).parent / "fixtures" / "template.yaml"
REPO_TEMPLATE = Path(__file__).resolve().parents[2] / "template.yaml"


@dataclass
class _Issued:
    key: str
    org_id: str
    scopes: list[str] | None


@dataclass
class _StubKeys:
    calls: list[dict[str, Any]] = field(default_factory=list)

    def issue(self, org_name: str, scopes: list[str] | None = None) -> _Issued:
        self.calls.append(
            {
                "org": org_name,
                "scopes": scopes,
                "endpoint": os.environ.get("AWS_ENDPOINT_URL"),
                "table": os.environ.get("ITEMS_TABLE"),
            }
        )
        return _Issued(key=f"key-for-{org_name}", org_id="org_1", scopes=scopes)


@pytest.fixture
def stub_keys(monkeypatch: pytest.MonkeyPatch) -> Iterator[_StubKeys]:
    """A stand-in for ``telemetry.bootstrap`` (the fixture template has no definitions table)."""
    keys = _StubKeys()
    container = types.SimpleNamespace(keys=keys)
    module = types.ModuleType("telemetry.bootstrap")
    module.bootstrap = lambda *args, **kwargs: container  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "telemetry.bootstrap", module)
    saved = dict(os.environ)
    yield keys
    os.environ.clear()
    os.environ.update(saved)


def test_run_prints_key_and_curl_then_stops_on_sigterm(
    stub_keys: _StubKeys, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    # A private copy: the state file lands next to the template, and other runs may be active.
    fixtures = shutil.copytree(
        FIXTURE_TEMPLATE.parent, tmp_path / "fixtures", ignore=shutil.ignore_patterns(".devstack", "__pycache__")
    )
    template = fixtures / "template.yaml"
    state_file = fixtures / ".devstack" / "state.json"
    seen: dict[str, Any] = {}

    def drive() -> None:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and not state_file.exists():
            time.sleep(0.05)
        try:
            state = json.loads(state_file.read_text())
            seen["state"] = state
            seen["status"] = requests.get(f"{state['gateway_url']}/public", timeout=5).status_code
        finally:
            os.kill(os.getpid(), signal.SIGTERM)

    helper = threading.Thread(target=drive)
    helper.start()
    rc = main(["--template", str(template), "run", "--port", "0"])
    helper.join()
    out = capsys.readouterr().out
    assert rc == 0
    assert seen["status"] == 200 and seen["state"]["pid"] == os.getpid()
    assert f"Local stack listening on {seen['state']['gateway_url']}" in out
    assert "API key: key-for-default" in out.splitlines()
    assert f'curl -s -H "X-Api-Key: key-for-default" {seen["state"]["gateway_url"]}/items/special' in out
    assert not state_file.exists()  # removed on stop
    assert stub_keys.calls[0]["org"] == "default" and stub_keys.calls[0]["scopes"] is None


def test_key_uses_the_running_local_stack(
    stub_keys: _StubKeys, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "template.yaml").write_text("Resources: {}\n")
    (tmp_path / ".devstack").mkdir()
    state = {
        "pid": os.getpid(),
        "endpoint_url": "http://127.0.0.1:1",
        "gateway_url": "http://127.0.0.1:2",
        "environment": {"ITEMS_TABLE": "items-local"},
    }
    (tmp_path / ".devstack" / "state.json").write_text(json.dumps(state))
    rc = main(["--template", str(tmp_path / "template.yaml"), "key", "--org", "acme", "--scopes", "read, write"])
    assert rc == 0
    assert capsys.readouterr().out.strip().splitlines()[-1] == "key-for-acme"
    assert stub_keys.calls == [
        {"org": "acme", "scopes": ["read", "write"], "endpoint": "http://127.0.0.1:1", "table": "items-local"}
    ]


def test_key_without_local_stack_or_credentials(
    stub_keys: _StubKeys, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "template.yaml").write_text("Resources: {}\n")
    for var in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    monkeypatch.delenv("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", raising=False)
    monkeypatch.delenv("AWS_CONTAINER_CREDENTIALS_FULL_URI", raising=False)
    assert main(["--template", str(tmp_path / "template.yaml"), "key", "--org", "acme"]) == 2
    assert stub_keys.calls == []


def test_deployed_outputs_map_to_environment_and_example_path() -> None:
    template = Template.load(REPO_TEMPLATE)
    env = deployed_environment(template, {"DefinitionsTableName": "defs-prod", "Unrelated": "x"})
    assert env == {"DEFINITIONS_TABLE": "defs-prod"}
    path = example_path(template)
    assert path is not None and path.startswith("/") and "{" not in path
    assert example_path(Template.load(FIXTURE_TEMPLATE)) == "/items/special"  # /public has no authorizer
