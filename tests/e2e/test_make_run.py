"""`make run` and `make key` as a new user meets them: a real process, its printed key and curl
line, a key with limited scopes, and a clean stop on Ctrl-C."""

from __future__ import annotations

import os
import re
import shlex
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

pytestmark = pytest.mark.e2e
REPO = Path(__file__).resolve().parents[2]
CLI = str(Path(sys.executable).with_name("telemetry-dev"))


def test_run_prints_a_working_key_and_curl_line_and_key_issues_scoped_keys() -> None:
    from devstack.stack import free_port

    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    # this checkout's code, not whichever one the shared venv's editable install points at
    env["PYTHONPATH"] = os.pathsep.join(
        [str(REPO / "shared"), str(REPO / "layers" / "domain"), env.get("PYTHONPATH", "")]
    )
    proc = subprocess.Popen(
        [CLI, "run", "--port", str(port)],
        cwd=REPO,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    lines: list[str] = []
    try:
        deadline = time.monotonic() + 90
        assert proc.stdout is not None
        while time.monotonic() < deadline:
            line = proc.stdout.readline()
            lines.append(line)
            if line.startswith("curl ") or proc.poll() is not None:
                break
        output = "".join(lines)
        assert f"http://127.0.0.1:{port}" in output, output
        key = re.search(r"^API key: (avy_\S+)$", output, re.M)
        assert key, output
        # the printed curl line works as printed
        curl = next(line for line in lines if line.startswith("curl "))
        result = subprocess.run(
            [*shlex.split(curl), "-w", "\n%{http_code}"], capture_output=True, text=True, timeout=30
        )
        assert result.stdout.rstrip().endswith("200"), result.stdout
        # the printed console URL serves the console's page
        console = re.search(r"^Console: (http://\S+/console/) ", output, re.M)
        assert console, output
        page = requests.get(console.group(1), timeout=10)
        assert page.status_code == 200 and "<title>Telemetry console</title>" in page.text

        # `make key ORG=... SCOPES=...` against the running stack: the key is the last line
        issued = subprocess.run(
            [CLI, "key", "--port", str(port), "--org", "readers", "--scopes", "metrics:read"],
            cwd=REPO,
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert issued.returncode == 0, issued.stderr
        reader = issued.stdout.strip().splitlines()[-1]
        assert reader.startswith("avy_")
        base = f"http://127.0.0.1:{port}"
        assert (
            requests.get(f"{base}/v2/definitions/metrics", headers={"X-Api-Key": reader}, timeout=10).status_code == 200
        )
        denied = requests.post(
            f"{base}/v2/definitions/metrics",
            headers={"X-Api-Key": reader},
            timeout=10,
            json={"name": "x", "dataType": "Double", "defaultAggregation": "Last"},
        )
        assert denied.status_code == 403 and denied.headers["Content-Type"] == "application/problem+json"

        # `make key ORG=default PLACES=<site>`: a key that sees one place of the organization
        admin = {"X-Api-Key": key.group(1)}
        mine, other = (
            requests.post(f"{base}/v2/sites", headers=admin, json={"name": n}, timeout=10).json()["id"] for n in "AB"
        )
        limited = (
            subprocess.run(
                [CLI, "key", "--port", str(port), "--org", "default", "--places", mine],
                cwd=REPO,
                env=env,
                capture_output=True,
                text=True,
                timeout=60,
            )
            .stdout.strip()
            .splitlines()[-1]
        )
        seen = requests.get(f"{base}/v2/sites", headers={"X-Api-Key": limited}, timeout=10).json()["items"]
        assert [s["id"] for s in seen] == [mine]
        assert requests.get(f"{base}/v2/sites/{other}", headers={"X-Api-Key": limited}, timeout=10).status_code == 404
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            rest, _ = proc.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            raise
    assert proc.returncode == 0, rest
    assert "Traceback" not in rest
