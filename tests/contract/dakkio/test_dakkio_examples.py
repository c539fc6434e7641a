"""The bucket data points document's own examples (curl, Python requests, JavaScript axios),
read verbatim from tests/contract/spec/dakkio-ingest-data.md and run against a local stack over
HTTP with only the base URL, the key and the two ids replaced (our ids are created by the test;
the document's 507f1f77bcf86cd799439011/…12 do not exist here). The Go and Arduino examples are
not run: no Go toolchain or ESP32 on this machine.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest
import requests
from devstack.stack import LocalStack

from tests.contract.dakkio.stack import eventually, issue_key, make_bucket, running_stack
from tests.contract.spec_examples import SPEC_DIR

HERE = Path(__file__).parent
DOC = (SPEC_DIR / "dakkio-ingest-data.md").read_text(encoding="utf-8")
DOC_URL = "https://api.dakkio.io"
DOC_KEY = "dakkio_a1b2c3d4e5f6g7h8i9j0k1l2m3n4o5p6"
DOC_BUCKET = "507f1f77bcf86cd799439011"
DOC_SOURCE = "507f1f77bcf86cd799439012"
OBJECT_ID = re.compile(r"^[0-9a-f]{24}$")
ISO = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{3})?Z$")
SCHEMA = {
    "temperature": {"type": "number", "required": True},
    "humidity": {"type": "number"},
    "pressure": {"type": "number"},
}


def section(start: str, end: str) -> str:
    """The document's text between two headings (the examples are not fenced)."""
    begin = DOC.index(start) + len(start)
    return DOC[begin : DOC.index(end, begin)].strip()


class World:
    def __init__(self, stack: LocalStack) -> None:
        self.url = stack.url
        self.key = issue_key("dakkio-contract", scopes=["data:write", "data:read", "buckets:write", "buckets:read"])
        self.bucket, self.source, self.thing = make_bucket(self.url, self.key, SCHEMA)

    def adapt(self, text: str) -> str:
        """Only the base URL, the key and the ids change."""
        return (
            text.replace(DOC_URL, self.url)
            .replace(DOC_KEY, self.key)
            .replace(DOC_BUCKET, self.bucket)
            .replace(DOC_SOURCE, self.source)
        )

    def env(self) -> dict[str, str]:
        return {**os.environ, "DAKKIO_API_KEY": self.key}


@pytest.fixture(scope="module")
def world() -> Iterator[World]:
    with running_stack() as stack:
        yield World(stack)


def assert_documented_point(point: dict[str, Any], world: World, timestamp: str | None = None) -> None:
    assert list(point) == ["_id", "bucketId", "dataSourceId", "timestamp", "values", "metadata", "createdAt"]
    assert OBJECT_ID.match(point["_id"])
    assert (point["bucketId"], point["dataSourceId"]) == (world.bucket, world.source)
    assert ISO.match(point["timestamp"]) and ISO.match(point["createdAt"])
    if timestamp:
        assert point["timestamp"] == timestamp
    assert point["values"] == {"temperature": 22.5, "humidity": 65, "pressure": 1013.25}
    assert point["metadata"] == {"deviceId": "ESP32-001", "location": "Living Room", "batteryLevel": 85}


def test_curl_example(world: World) -> None:
    command = world.adapt(section("Example Request", "Response"))
    assert command.startswith("curl -X POST")
    out = subprocess.run(["bash", "-c", command], capture_output=True, text=True, timeout=30, check=True)
    body = orjson.loads(out.stdout)
    assert body["message"] == "Data point ingested successfully"
    assert_documented_point(body["dataPoint"], world, "2024-01-15T10:30:00Z")
    # The same request for the status line (curl -w is the only addition).
    status = subprocess.run(
        ["bash", "-c", command + " -s -o /dev/null -w '%{http_code}'"],
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    )
    assert status.stdout == "201"


def reindent(code: str) -> str:
    """The page lost the Python example's indentation; put it back (whitespace only): a block opens
    after a line ending in ``:``, ``else``/``elif`` close one, a call of a defined function at
    bracket depth 0 is top level again."""
    defined = set(re.findall(r"^def (\w+)\(", code, flags=re.M))
    level = depth = 0
    out: list[str] = []
    for raw in code.splitlines():
        line = raw.strip()
        if depth == 0:
            if line.startswith(("else:", "elif ", "except", "finally:")):
                level -= 1
            if any(line == f"{name}()" for name in defined):
                level = 0
        out.append("    " * (level + (1 if depth else 0)) + line)
        depth += sum(line.count(c) for c in "([{") - sum(line.count(c) for c in ")]}")
        if depth == 0 and line.endswith(":"):
            level += 1
    return "\n".join(out) + "\n"


def test_python_example(world: World) -> None:
    code = reindent(world.adapt(section("Python", "Go")))
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=30, env=world.env())
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith("Success: {'message': 'Data point ingested successfully'"), out.stdout


def _axios() -> bool:
    if (HERE / "node_modules" / "axios").is_dir():
        return True
    npm = shutil.which("npm")
    if npm is None:
        return False
    done = subprocess.run(
        [npm, "install", "--no-save", "--no-package-lock", "--prefix", str(HERE), "axios@1"],
        capture_output=True,
        timeout=180,
    )
    return done.returncode == 0


@pytest.mark.skipif(shutil.which("node") is None, reason="node is not installed")
def test_javascript_example(world: World) -> None:
    code = world.adapt(section("JavaScript/Node.js", "Python"))
    assert code.startswith("const axios = require('axios');")
    if not _axios():  # npm unreachable: the same program on Node 20's fetch (said in docs/dakkio.md)
        code = code.replace("const axios = require('axios');", FETCH_AXIOS)
    script = HERE / "node_modules" / ".example.js"
    script.parent.mkdir(exist_ok=True)
    script.write_text(code, encoding="utf-8")
    out = subprocess.run(["node", str(script)], capture_output=True, text=True, timeout=60, env=world.env(), cwd=HERE)
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith("Success:") and "Data point ingested successfully" in out.stdout, (
        out.stdout + out.stderr
    )
    assert "ESP32-001" in out.stdout


FETCH_AXIOS = """const axios = { post: async (url, data, config) => {
  const r = await fetch(url, { method: 'POST', headers: config.headers, body: JSON.stringify(data) });
  const body = await r.json();
  if (r.status >= 400) { const e = new Error(String(r.status)); e.response = { status: r.status, data: body }; throw e; }
  return { status: r.status, data: body };
} };"""


def test_device_metadata_best_practice(world: World) -> None:
    """Best practice 3's body, with the ids, is accepted and its metadata kept."""
    snippet = orjson.loads(section("3. Include Device Metadata\nHelp with debugging and monitoring:", "4. Implement"))
    body = {"bucketId": world.bucket, "dataSourceId": world.source, **snippet}
    out = requests.post(f"{world.url}/api/data", json=body, headers={"X-API-Key": world.key}, timeout=10)
    assert out.status_code == 201
    assert out.json()["dataPoint"]["metadata"] == snippet["metadata"]


def test_points_are_queryable(world: World) -> None:
    def points() -> list[Any]:
        r = requests.get(
            f"{world.url}/api/data",
            params={"bucketId": world.bucket, "dataSourceId": world.source},
            headers={"X-API-Key": world.key},
            timeout=10,
        )
        assert r.status_code == 200
        return list(r.json()["dataPoints"])

    found = eventually(lambda: [p for p in points() if p["timestamp"] == "2024-01-15T10:30:00Z"])
    assert found and found[0]["values"]["temperature"] == 22.5


# ---------------------------------------------------------------- the documented error bodies
def _post(world: World, body: Any, key: str | None = "default") -> requests.Response:
    headers = {"Content-Type": "application/json"}
    if key is not None:
        headers["X-API-Key"] = world.key if key == "default" else key
    return requests.post(f"{world.url}/api/data", data=orjson.dumps(body), headers=headers, timeout=10)


def _doc_body(world: World) -> dict[str, Any]:
    text = section("Example Request", "Response")
    payload = text[text.index("-d '") + 4 : text.rindex("'")]
    return dict(orjson.loads(world.adapt(payload)))


def test_400_validation_error(world: World) -> None:
    body = _doc_body(world)
    del body["bucketId"]
    out = _post(world, body)
    assert out.status_code == 400
    assert out.json() == {
        "error": "Validation Error",
        "message": "Invalid request parameters",
        "details": [{"path": ["body", "bucketId"], "message": "Expected string, received undefined"}],
    }


@pytest.mark.parametrize("key", [None, "dakkio_a1b2c3d4e5f6g7h8i9j0k1l2m3n4o5p6", "avy_revoked_or_unknown"])
def test_401_invalid_api_key(world: World, key: str | None) -> None:
    out = _post(world, _doc_body(world), key=key)
    assert out.status_code == 401
    assert out.json() == {"error": "Unauthorized", "message": "Invalid or missing API key"}


def test_404_bucket_not_found(world: World) -> None:
    body = {**_doc_body(world), "bucketId": DOC_BUCKET}
    out = _post(world, body)
    assert out.status_code == 404
    assert out.json() == {"error": "Not Found", "message": "Bucket not found"}
