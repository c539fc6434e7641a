"""End to end over HTTP: the operator registers a building, room and sensor (API and CLI), the
sensor sends batches, the writer materialises them, the platform's queries read them back."""

from __future__ import annotations

import argparse
import json
from collections.abc import Iterator
from typing import Any

import pytest
import requests
from devstack.sensors_cli import register
from devstack.stack import LocalStack

from tests.contract.ambiquality.stack import eventually, issue_key, register_sensor, running_stack
from tests.support import callers_stdout

pytestmark = pytest.mark.e2e

READINGS = [
    {"parameterCode": "co2", "value": 812, "unit": "ppm"},
    {"parameterCode": "temperature", "value": 21.4, "unit": "°C"},
]


@pytest.fixture(scope="module")
def stack() -> Iterator[LocalStack]:
    with running_stack() as running:
        yield running


def send(url: str, key: str | None, body: Any) -> requests.Response:
    headers = {"X-Sensor-Key": key} if key else {}
    return requests.post(f"{url}/ingestion/v1/measurements", json=body, headers=headers, timeout=10)


def cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, Any, str]:
    parser = argparse.ArgumentParser(prog="telemetry-dev")
    register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(["sensors", *argv])
    with callers_stdout() as stdout:
        code = args.func(args)
    out, err = stdout.getvalue(), capsys.readouterr().err
    return code, json.loads(out) if out.strip() else None, err


def test_readings_reach_the_platform_queries(stack: LocalStack) -> None:
    made = register_sensor(stack.url)
    accepted = send(stack.url, made.sensor_key, {"sensorId": made.sensor_id, "readings": READINGS})
    assert accepted.status_code == 202, accepted.text
    received_at = accepted.json()["receivedAt"]
    thing = made.sensor["thingId"]
    h = {"X-Api-Key": made.api_key}

    def latest() -> Any:
        answer = requests.get(f"{stack.url}/v2/things/{thing}/latest-event", headers=h, timeout=10).json()
        return answer if answer.get("metrics") else None

    event = eventually(latest)
    assert event, "the writer never materialised the batch"
    assert event["metrics"] == {"amq.co2": 812.0, "amq.temperature": 21.4}
    # the server's clock, one instant for the batch (".000" of a whole second is dropped by the platform)
    from telemetry.clock import ms_from_iso

    assert ms_from_iso(event["time"]) == ms_from_iso(received_at)
    history = requests.get(f"{stack.url}/v2/things/{thing}/history", headers=h, timeout=10).json()
    assert [f["metrics"] for f in history["frames"]] == [{"amq.co2": 812.0, "amq.temperature": 21.4}]
    aggregates = requests.get(
        f"{stack.url}/v2/things/{thing}/aggregates", params={"interval": "1h"}, headers=h, timeout=10
    )
    assert aggregates.status_code == 200 and aggregates.json()["buckets"][0]["metrics"]["amq.co2"] == 812.0
    metrics = requests.get(f"{stack.url}/v2/definitions/metrics", headers=h, timeout=10).json()["items"]
    assert {m["name"]: m["unitLabel"] for m in metrics}["amq.temperature"] == "°C"


def test_lifecycle_rotate_maintenance_and_rate_limit(stack: LocalStack) -> None:
    made = register_sensor(stack.url)
    h = {"X-Api-Key": made.api_key}
    body = {"sensorId": made.sensor_id, "readings": READINGS}
    assert send(stack.url, None, body).status_code == 401
    paused = requests.patch(
        f"{stack.url}/v2/sensors/{made.sensor_id}", json={"status": "maintenance"}, headers=h, timeout=10
    )
    assert paused.status_code == 200 and paused.json()["status"] == "maintenance"
    refused = send(stack.url, made.sensor_key, body)
    assert refused.status_code == 403
    assert refused.json()["type"] == "urn:ambiquality:ingestion:sensor-not-active"
    requests.patch(f"{stack.url}/v2/sensors/{made.sensor_id}", json={"status": "active"}, headers=h, timeout=10)
    rotated = requests.post(f"{stack.url}/v2/sensors/{made.sensor_id}/rotate-key", headers=h, timeout=10).json()
    old = send(stack.url, made.sensor_key, body)
    assert old.status_code == 401 and old.json()["type"] == "urn:ambiquality:ingestion:invalid-key"
    assert send(stack.url, rotated["secretKey"], body).status_code == 202
    limited = send(stack.url, rotated["secretKey"], body)
    assert limited.status_code == 429 and 1 <= int(limited.headers["Retry-After"]) <= 300


def test_malformed_json_is_422_invalid_body_never_500(stack: LocalStack) -> None:
    made = register_sensor(stack.url)
    for raw in (b"{", b"null", b"\xff\xfe", b'{"sensorId": "' + made.sensor_id.encode() + b'", "readings": [1]}'):
        answer = requests.post(
            f"{stack.url}/ingestion/v1/measurements",
            data=raw,
            headers={"X-Sensor-Key": made.sensor_key, "Content-Type": "application/json"},
            timeout=10,
        )
        assert answer.status_code == 422, (raw, answer.text)
        assert answer.json()["type"] == "urn:ambiquality:ingestion:invalid-body"


def test_operator_cli_end_to_end(stack: LocalStack, capsys: pytest.CaptureFixture[str]) -> None:
    key = issue_key("amq-cli-org")
    base = ["--url", stack.url, "--api-key", key]
    code, catalog, _ = cli(capsys, "--url", stack.url, "parameters")
    assert code == 0 and len(catalog["items"]) == 8
    code, building, _ = cli(capsys, *base, "buildings", "create", "--name", "Plant")
    assert code == 0
    code, room, _ = cli(capsys, *base, "rooms", "create", "--building", building["id"], "--name", "Lab")
    assert code == 0
    code, sensor, _ = cli(
        capsys,
        *base,
        "create",
        "--room",
        room["id"],
        "--name",
        "Lab air",
        "--parameters",
        "co2,humidity",
        "--frequency",
        "600",
    )
    assert code == 0 and sensor["secretKey"].startswith("amq_sk_")
    assert sensor["measurement_frequency_seconds"] == 600
    code, listed, _ = cli(capsys, *base, "list", "--room", room["id"])
    assert [s["id"] for s in listed["items"]] == [sensor["id"]]
    code, _, err = cli(
        capsys, *base, "create", "--room", room["id"], "--name", "x", "--parameters", "co2", "--frequency", "120"
    )
    assert code == 1 and "HTTP 400" in err
    code, accepted, _ = cli(
        capsys, "--url", stack.url, "send", sensor["id"], "co2=700", "humidity=41.5", "--key", sensor["secretKey"]
    )
    assert code == 0 and [m["parameterCode"] for m in accepted["measurements"]] == ["co2", "humidity"]
    code, _, err = cli(capsys, "--url", stack.url, "send", sensor["id"], "co2=700", "--key", sensor["secretKey"])
    assert code == 1 and "HTTP 429" in err and "Retry-After" in err
    code, updated, _ = cli(capsys, *base, "update", sensor["id"], "--status", "retired")
    assert code == 0 and updated["status"] == "retired"
    code, rotated, _ = cli(capsys, *base, "rotate-key", sensor["id"])
    assert code == 0 and rotated["secretKey"] != sensor["secretKey"]
    code, got, _ = cli(capsys, *base, "get", sensor["id"])
    assert code == 0 and "secretKey" not in got and got["keyPrefix"] == rotated["secretKey"][:11]


def test_parameters_page_is_public(stack: LocalStack) -> None:
    """The catalog needs no key (the one open route besides ingestion)."""
    answer = requests.get(f"{stack.url}/ingestion/v1/parameters", timeout=10)
    assert answer.status_code == 200 and answer.headers["Cache-Control"].startswith("public")
    assert {p["code"] for p in answer.json()["items"]} >= {"co2", "temperature", "pm2_5", "noise"}
