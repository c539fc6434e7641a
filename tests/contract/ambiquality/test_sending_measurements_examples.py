"""Contract: the examples of "Sending measurements", read verbatim from the document and run
against a LocalStack over HTTP. Changed: the base URL, the key (through the AMQ_SENSOR_KEY
environment variable the examples already read), and the sensorId: the document's
``33333333-…`` is a placeholder, while we assign each sensor a random UUID at registration (a
device is configured with its id and key together, from the operator app's answer).
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from devstack.stack import LocalStack

from tests.contract.ambiquality.stack import DOC_BASE, DOC_SENSOR_ID, register_sensor, running_stack

DOCUMENT = Path(__file__).resolve().parents[1] / "spec" / "ambiquality-sending-measurements.md"
TEXT = DOCUMENT.read_text(encoding="utf-8")
CURL = re.search(r"^curl -sS -X POST .*?\}'$", TEXT, flags=re.S | re.M)
PYTHON = re.search(
    r"^import os, requests\n.*?print\(\"rejected:\", resp\.status_code, resp\.json\(\)\)$", TEXT, flags=re.S | re.M
)


@pytest.fixture(scope="module")
def stack() -> Iterator[LocalStack]:
    with running_stack() as running:
        yield running


def adapt(example: str, url: str, sensor_id: str) -> str:
    """Only the base URL and the sensorId change."""
    assert DOC_BASE in example and DOC_SENSOR_ID in example
    return example.replace(DOC_BASE, url).replace(DOC_SENSOR_ID, sensor_id)


def env_with(key: str) -> dict[str, str]:
    return {**os.environ, "AMQ_SENSOR_KEY": key}


def test_the_document_has_both_examples() -> None:
    assert CURL is not None and PYTHON is not None
    assert "X-Sensor-Key: $AMQ_SENSOR_KEY" in CURL.group(0)


def test_curl_example_202_then_429_with_retry_after(stack: LocalStack) -> None:
    assert CURL is not None
    made = register_sensor(stack.url)
    command = adapt(CURL.group(0), stack.url, made.sensor_id)
    out = subprocess.run(
        ["bash", "-c", command], capture_output=True, text=True, timeout=30, env=env_with(made.sensor_key), check=True
    )
    accepted = json.loads(out.stdout)
    assert accepted["sensorId"] == made.sensor_id
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", accepted["receivedAt"])
    assert [m["parameterCode"] for m in accepted["measurements"]] == ["co2", "temperature"]
    # the same command again within the interval: 429 and a whole-seconds Retry-After
    again = subprocess.run(
        ["bash", "-c", command + " -D - -o /dev/null"],
        capture_output=True,
        text=True,
        timeout=30,
        env=env_with(made.sensor_key),
        check=True,
    )
    status_line, *header_lines = again.stdout.strip().splitlines()
    assert " 429" in status_line, again.stdout
    headers = {k.strip().lower(): v.strip() for k, _, v in (h.partition(":") for h in header_lines if ":" in h)}
    assert headers["content-type"] == "application/problem+json"
    assert headers["retry-after"].isdigit() and 1 <= int(headers["retry-after"]) <= 300


def test_curl_example_with_status_code(stack: LocalStack) -> None:
    assert CURL is not None
    made = register_sensor(stack.url)
    command = adapt(CURL.group(0), stack.url, made.sensor_id) + " -o /dev/null -w '%{http_code}'"
    out = subprocess.run(
        ["bash", "-c", command], capture_output=True, text=True, timeout=30, env=env_with(made.sensor_key), check=True
    )
    assert out.stdout == "202"


def test_python_example_accepted_then_rate_limited(stack: LocalStack) -> None:
    """The example's own branches: 202 prints receivedAt; 429 reads Retry-After as an int."""
    assert PYTHON is not None
    made = register_sensor(stack.url)
    code = adapt(PYTHON.group(0), stack.url, made.sensor_id)
    first = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=30, env=env_with(made.sensor_key)
    )
    assert first.returncode == 0, first.stderr
    assert re.fullmatch(r"accepted: \d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z\n", first.stdout), first.stdout
    second = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=30, env=env_with(made.sensor_key)
    )
    assert second.returncode == 0, second.stderr
    match = re.fullmatch(r"rate limited, retry in (\d+)s\n", second.stdout)
    assert match and 1 <= int(match.group(1)) <= 300, second.stdout


def test_python_example_rejected_branch_reads_the_problem(stack: LocalStack) -> None:
    assert PYTHON is not None
    made = register_sensor(stack.url)
    code = adapt(PYTHON.group(0), stack.url, made.sensor_id)
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=30, env=env_with("amq_sk_not-the-key")
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith("rejected: 401 {") and "urn:ambiquality:ingestion:invalid-key" in out.stdout


def test_the_documented_body_as_json_over_http(stack: LocalStack) -> None:
    """The request body of section 3, sent as-is apart from the sensorId."""
    made = register_sensor(stack.url)
    body_text = re.search(r'^\{\n  "sensorId".*?^\}$', TEXT, flags=re.S | re.M)
    assert body_text is not None
    body = json.loads(body_text.group(0).replace(DOC_SENSOR_ID, made.sensor_id))
    answer = requests.post(
        f"{stack.url}/ingestion/v1/measurements", json=body, headers={"X-Sensor-Key": made.sensor_key}, timeout=10
    )
    assert answer.status_code == 202, answer.text
    assert answer.headers["Content-Type"] == "application/json"
