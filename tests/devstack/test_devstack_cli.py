"""telemetry-dev: ``run`` prints a working key and stops cleanly; ``key`` targets the running stack."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
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
from devstack.stack import free_port
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
    port = free_port()
    state_file = fixtures / ".devstack" / str(port) / "state.json"  # one state per port
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
    rc = main(["--template", str(template), "run", "--port", str(port)])
    helper.join()
    out = capsys.readouterr().out
    assert rc == 0
    assert seen["status"] == 200 and seen["state"]["pid"] == os.getpid()
    assert f"Local stack listening on {seen['state']['gateway_url']}" in out
    assert "API key: key-for-default" in out.splitlines()
    assert f"Console: {seen['state']['gateway_url']}/console/ (sign in with the API key above)" in out.splitlines()
    assert f'curl -s -H "X-Api-Key: key-for-default" {seen["state"]["gateway_url"]}/items/special' in out
    assert not state_file.exists()  # removed on stop
    # the provider fakes run beside the stack, each with its base URL
    fakes = {line.split()[0]: line.split()[1] for line in out.splitlines() if line.startswith("  ")}
    assert set(fakes) == {"geotab", "zubie", "utilityapi", "http"}
    assert all(url.startswith("http://127.0.0.1:") for url in fakes.values())
    assert stub_keys.calls[0]["org"] == "default" and stub_keys.calls[0]["scopes"] is None


def _write_state(root: Path, port: int, table: str) -> None:
    """The state a running ``telemetry-dev run --port <port>`` leaves beside the template."""
    folder = root / ".devstack" / str(port)
    folder.mkdir(parents=True)
    state = {
        "pid": os.getpid(),
        "port": port,
        "endpoint_url": f"http://127.0.0.1:{port + 1}",
        "gateway_url": f"http://127.0.0.1:{port}",
        "environment": {"ITEMS_TABLE": table},
    }
    (folder / "state.json").write_text(json.dumps(state))


def test_key_uses_the_running_local_stack(
    stub_keys: _StubKeys, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("PORT", raising=False)
    (tmp_path / "template.yaml").write_text("Resources: {}\n")
    _write_state(tmp_path, 2, "items-local")
    state = {"endpoint_url": "http://127.0.0.1:3"}
    rc = main(["--template", str(tmp_path / "template.yaml"), "key", "--org", "acme", "--scopes", "read, write"])
    assert rc == 0
    assert capsys.readouterr().out.strip().splitlines()[-1] == "key-for-acme"
    assert stub_keys.calls == [
        {"org": "acme", "scopes": ["read", "write"], "endpoint": state["endpoint_url"], "table": "items-local"}
    ]


def test_key_targets_the_stack_on_the_given_port_not_the_last_started(
    stub_keys: _StubKeys, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Issue 8.4: two stacks run beside one template; ``--port`` (or ``$PORT``) picks one."""
    monkeypatch.delenv("PORT", raising=False)
    template = str(tmp_path / "template.yaml")
    (tmp_path / "template.yaml").write_text("Resources: {}\n")
    _write_state(tmp_path, 3100, "items-a")
    _write_state(tmp_path, 3200, "items-b")  # started last
    assert main(["--template", template, "key", "--org", "a", "--port", "3100"]) == 0
    monkeypatch.setenv("PORT", "3100")
    assert main(["--template", template, "key", "--org", "b"]) == 0
    monkeypatch.delenv("PORT")
    # two stacks and no port: refuse to guess; a port with no stack: say so, never fall back
    assert main(["--template", template, "key", "--org", "c"]) == 2
    assert main(["--template", template, "key", "--org", "d", "--port", "3300"]) == 2
    assert [(c["org"], c["table"], c["endpoint"]) for c in stub_keys.calls] == [
        ("a", "items-a", "http://127.0.0.1:3101"),
        ("b", "items-a", "http://127.0.0.1:3101"),
    ]
    assert "3100" in capsys.readouterr().err


def test_make_key_passes_port_to_the_cli() -> None:
    make = shutil.which("make")
    if make is None:
        pytest.skip("make is not installed")
    root = REPO_TEMPLATE.parent
    out = subprocess.run(
        [make, "-n", "-o", ".venv/.installed", "key", "ORG=acme", "PORT=3102"],
        cwd=root,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert "--port 3102" in out and '--org "acme"' in out, out


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
