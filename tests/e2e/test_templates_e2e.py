"""Templates end to end over HTTP against the local stack: create, test, apply (JsonPointer with the
spec's own example template, JavaScriptHandler, Dbc), then read the readings back through the
platform's queries once the writer (fed by the SQS poller) has stored them. Transactions too."""

from __future__ import annotations

import time
from typing import Any

import pytest
import requests

from tests.contract.spec_examples import json_blocks, substitute

pytestmark = pytest.mark.e2e
DOC = "aerovy-templates.md"
EXAMPLE_TEMPLATE, EXAMPLE_REPORT = json_blocks(DOC)[0], json_blocks(DOC)[1]
T0 = 1718884800000
ISO0 = "2024-06-20T12:00:00Z"

DBC = """VERSION ""

BS_:

BU_: ECU

BO_ 256 Battery: 8 ECU
 SG_ Voltage : 0|16@1+ (0.01,0) [0|655.35] "V" ECU
 SG_ State : 16|8@1+ (1,0) [0|2] "" ECU

VAL_ 256 State 0 "IDLE" 1 "RUNNING" 2 "FAULT" ;
"""


class Client:
    def __init__(self, base: str, key: str) -> None:
        self.base, self.session = base, requests.Session()
        self.session.headers.update({"X-Api-Key": key, "Content-Type": "application/json"})

    def request(self, method: str, path: str, body: Any = None, **params: Any) -> requests.Response:
        data = body if isinstance(body, bytes) else None
        return self.session.request(
            method, self.base + path, json=None if data else body, data=data, params=params or None, timeout=30
        )

    def ok(self, method: str, path: str, body: Any = None, status: int = 200, **params: Any) -> Any:
        answer = self.request(method, path, body, **params)
        assert answer.status_code == status, (method, path, answer.status_code, answer.text)
        return answer.json()

    def wait_for(self, path: str, ready: Any, timeout: float = 20.0) -> Any:
        """Poll a query until the writer has stored what ``ready`` expects (SQS poller → writer)."""
        deadline = time.monotonic() + timeout
        while True:
            body = self.ok("GET", path)
            if ready(body) or time.monotonic() > deadline:
                return body
            time.sleep(0.2)


@pytest.fixture(scope="module")
def client(local_stack: Any, api_key: str) -> Client:
    return Client(local_stack.url, api_key)


@pytest.fixture(scope="module")
def world(client: Client) -> dict[str, str]:
    """Metrics named like the spec's placeholders, a type with all but torque, a site."""
    ids: dict[str, str] = {}
    for name, dtype, extra in (
        ("voltage", "Double", {}),
        ("state", "Int", {"enumValues": [{"code": 0, "label": "IDLE"}, {"code": 1, "label": "RUNNING"},
                                         {"code": 2, "label": "FAULT"}]}),
        ("mode", "String", {}),
        ("fw", "String", {}),
        ("torque", "Double", {}),
    ):  # fmt: skip
        body = {"name": name, "dataType": dtype, "defaultAggregation": "Last", **extra}
        ids[name] = client.ok("POST", "/v2/definitions/metrics", body, status=201)["id"]
    on_type = [ids[n] for n in ("voltage", "state", "mode", "fw")]
    ids["type"] = client.ok("POST", "/v2/definitions/thing-types", {"displayName": "Acme", "metricIds": on_type}, 201)[
        "id"
    ]
    ids["site"] = client.ok("POST", "/v2/sites", {"name": "Plant"}, 201)["id"]
    return ids


def new_thing(client: Client, world: dict[str, str], name: str) -> str:
    body = {"thingName": name, "thingTypeId": world["type"]}
    return str(client.ok("POST", f"/v2/sites/{world['site']}/things", body, 201)["id"])


def test_the_spec_example_template_reports_every_field_and_its_readings_are_queryable(
    client: Client, world: dict[str, str]
) -> None:
    body = substitute(EXAMPLE_TEMPLATE, {f"mdef_{n}": world[n] for n in ("voltage", "state", "mode", "fw")})
    body["spec"]["mappings"].append({"metricId": world["torque"], "source": {"pointer": "/tq"}})  # not on the type
    template = client.ok("POST", "/v2/templates", body, 201)
    assert template["id"].startswith("tmpl_") and template["revision"] == 1

    payload = {
        "readings": [
            {"ts": ISO0, "v": 523, "state": "RUNNING", "mode": "eco", "tq": 7},
            {"ts": "n/a", "v": 1},
            {"ts": "2024-06-20T12:00:01Z", "mode": ["not", "scalar"]},
            {"ts": "2024-06-20T12:00:02Z", "v": "abc", "state": "IDLE"},
        ]
    }
    dry = client.ok("POST", f"/v2/templates/{template['id']}/test", payload)
    assert dry["previewOnly"] is True and dry["metricsSkippedNotOnTtd"] == [] and len(dry["readings"]) == 2

    thing = new_thing(client, world, "spec-example")
    path = f"/v2/thing/{thing}/data/template/{template['id']}"
    preview = client.ok("POST", path, payload, previewOnly="true")
    assert preview["previewOnly"] is True

    report = client.ok("POST", path, payload, previewOnly="false")
    assert set(report) == set(EXAMPLE_REPORT)  # the spec's report, every field
    assert report["previewOnly"] is False and report["templateRevision"] == 1
    assert (report["recordsParsed"], report["readingsWritten"], report["metricValuesWritten"]) == (4, 2, 5)
    assert report["recordsSkipped"] == [
        {"index": 1, "reason": "invalid_timestamp", "value": "n/a"},
        {"index": 2, "reason": "no_metric_values"},
    ]
    assert report["metricsSkippedNotOnTtd"] == [world["torque"]]
    assert {"metricId": world["fw"], "count": 3} in report["fieldsSkippedMissing"]
    assert {"metricId": world["voltage"], "reason": "parse_failed", "count": 1} in report["fieldsInvalid"]

    latest = client.wait_for(f"/v2/things/{thing}/latest-event", lambda b: b["timestamp"] == T0 + 2000)
    assert latest["metrics"] == {"state": 0, "mode": "auto"}
    history = client.ok("GET", f"/v2/things/{thing}/history", start=str(T0), end=str(T0 + 10_000))
    assert [f["metrics"] for f in history["frames"]] == [
        {"voltage": 52.3, "state": 1, "mode": "eco"},
        {"state": 0, "mode": "auto"},
    ]

    # the next revision is echoed by apply; a deleted template can no longer be applied
    updated = client.ok("PUT", f"/v2/templates/{template['id']}", {"name": "Acme Telemetry v2"})
    assert updated["revision"] == 2
    assert client.ok("POST", path, {"readings": []}, previewOnly="true")["templateRevision"] == 2
    assert client.ok("DELETE", f"/v2/templates/{template['id']}")["status"] == "deleted"
    gone = client.request("POST", path, {"readings": []})
    assert gone.status_code == 404 and gone.json()["type"].endswith(":template-deleted")


def test_a_javascript_template_ingests_real_readings(client: Client, world: dict[str, str]) -> None:
    v, s = world["voltage"], world["state"]
    source = (
        "function handler(payload, context) {"
        f" return payload.rows.map(r => ({{ timestamp: r.at, metrics: {{ {v}: r.mv / 1000, {s}: r.st }} }})); }}"
    )
    spec = {"source": source, "metricIds": [v, s]}
    template = client.ok(
        "POST", "/v2/templates", {"name": "js", "target": "ThingData", "format": "JavaScriptHandler", "spec": spec}, 201
    )
    thing = new_thing(client, world, "js")
    rows = [{"at": T0, "mv": 52300, "st": "RUNNING"}, {"at": "2024-06-20T12:00:01Z", "mv": 51000, "st": 2}]
    report = client.ok("POST", f"/v2/thing/{thing}/data/template/{template['id']}", {"rows": rows})
    assert (report["readingsWritten"], report["metricValuesWritten"]) == (2, 4)
    latest = client.wait_for(f"/v2/things/{thing}/latest-event", lambda b: b["timestamp"] == T0 + 1000)
    assert latest["metrics"] == {"voltage": 51.0, "state": 2}
    history = client.ok("GET", f"/v2/things/{thing}/history", start=str(T0), end=str(T0 + 2000))
    assert [f["metrics"] for f in history["frames"]] == [{"voltage": 52.3, "state": 1}, {"voltage": 51.0, "state": 2}]


def test_a_dbc_template_ingests_real_readings(client: Client, world: dict[str, str]) -> None:
    spec = {
        "dbc": DBC,
        "mappings": [
            {"signal": "Battery.Voltage", "metricId": world["voltage"]},
            {"signal": "Battery.State", "metricId": world["state"], "enumMap": {"IDLE": 0, "RUNNING": 1, "FAULT": 2}},
            {"signal": "State", "metricId": world["mode"]},
        ],
    }
    template = client.ok(
        "POST", "/v2/templates", {"name": "can", "target": "ThingData", "format": "Dbc", "spec": spec}, 201
    )
    thing = new_thing(client, world, "can")
    frames = {
        "frames": [
            {"id": 256, "data": "6e14010000000000", "timestamp": T0},
            {"id": "0x100", "dataBase64": "zBACAAAAAAA=", "timestamp": "2024-06-20T12:00:01Z"},
            {"id": 999, "data": "00", "timestamp": T0},
        ]
    }
    report = client.ok("POST", f"/v2/thing/{thing}/data/template/{template['id']}", frames)
    assert report["readingsWritten"] == 2
    assert report["recordsSkipped"] == [{"index": 2, "reason": "unknown_frame_id", "value": 999}]
    latest = client.wait_for(f"/v2/things/{thing}/latest-event", lambda b: b["timestamp"] == T0 + 1000)
    assert latest["metrics"]["state"] == 2 and latest["metrics"]["mode"] == "FAULT"
    assert latest["metrics"]["voltage"] == pytest.approx(43.0)
    history = client.ok("GET", f"/v2/things/{thing}/history", start=str(T0), end=str(T0 + 2000))
    assert [f["metrics"]["mode"] for f in history["frames"]] == ["RUNNING", "FAULT"]
    assert history["frames"][0]["metrics"]["voltage"] == pytest.approx(52.3)


def test_transactions_are_stored_and_read_back(client: Client) -> None:
    spec = {
        "recordsPointer": "/tx",
        "timestamp": {"source": {"pointer": "/at"}, "format": "iso8601"},
        "id": {"pointer": "/id"},
        "type": {"pointer": "/kind", "default": "charge"},
        "amount": {"pointer": "/amt"},
        "currency": {"pointer": "/cur", "default": "USD"},
        "attributes": {"site": {"pointer": "/site", "scope": "document"}},
    }
    template = client.ok(
        "POST", "/v2/templates", {"name": "tx", "target": "Transactions", "format": "JsonPointer", "spec": spec}, 201
    )
    payload = {"site": "north", "tx": [{"at": ISO0, "id": "ch_1", "amt": 12.5}, {"at": ISO0, "id": "ch_2", "amt": 3}]}
    report = client.ok("POST", f"/v2/transactions/template/{template['id']}", payload)
    assert report["transactionsWritten"] == 2
    window: dict[str, Any] = {"type": "charge", "start": ISO0, "end": "2024-06-21T00:00:00Z"}
    deadline = time.monotonic() + 20
    while True:
        page = client.ok("GET", "/v2/transactions", **window)
        if len(page["transactions"]) == 2 or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert [(t["id"], t["amount"], t["currency"], t["attributes"]) for t in page["transactions"]] == [
        ("ch_1", 12.5, "USD", {"site": "north"}),
        ("ch_2", 3.0, "USD", {"site": "north"}),
    ]
