"""Integrations as a user meets them on `make run` (issue 9.7): everything over HTTP, the provider
fakes beside the stack, and nothing run by hand — the integration's EventBridge Scheduler schedule
(emulated from what moto stores) fires, the pull function pulls the Geotab fake, and the readings
reach latest-event. Then `telemetry-dev pull` runs one more step by hand."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
import requests
from devstack.cli import main
from devstack.fakes import RunningFakes, start_fakes
from devstack.stack import LocalStack

from tests.support import REPO, eventually, issue_key, running_stack

pytestmark = pytest.mark.e2e

EXAMPLES = REPO / "docs" / "examples" / "integrations"


@pytest.fixture(scope="module")
def world() -> Iterator[tuple[LocalStack, RunningFakes]]:
    # speedup 60: the integration's rate(1 minute) schedule fires every second
    with (
        start_fakes() as fakes,
        running_stack(stack_name="e2e-intg", schedules=True, speedup=60, state_file=True) as stack,
    ):
        yield stack, fakes


def test_a_scheduled_integration_brings_geotab_readings_onto_latest_event(
    world: tuple[LocalStack, RunningFakes],
) -> None:
    stack, fakes = world
    key = issue_key(f"intg-{uuid.uuid4().hex[:8]}")

    def ok(method: str, path: str, body: Any = None, status: int = 201) -> Any:
        answer = requests.request(method, stack.url + path, json=body, headers={"X-Api-Key": key}, timeout=15)
        assert answer.status_code == status, (method, path, answer.text)
        return answer.json() if answer.content else None

    # Given the example metrics, the example Geotab StatusData template and a thing, over HTTP
    examples = json.loads((EXAMPLES / "metrics.json").read_text())
    ids = {name: ok("POST", "/v2/definitions/metrics", body)["id"] for name, body in examples.items()}
    spec_text = (EXAMPLES / "geotab-statusdata.template.json").read_text()
    for placeholder, real in ids.items():
        spec_text = spec_text.replace(f'"{placeholder}"', f'"{real}"')
    template = ok("POST", "/v2/templates", json.loads(spec_text))["id"]
    soc = ids["mdef_state_of_charge"]
    type_id = ok("POST", "/v2/definitions/thing-types", {"displayName": "Truck", "metricIds": list(ids.values())})["id"]
    site = ok("POST", "/v2/sites", {"name": "Depot"})["id"]
    thing = ok("POST", f"/v2/sites/{site}/things", {"thingName": "Truck 1", "thingTypeId": type_id})["id"]
    # When an integration of Geotab device b1 is created with a one-minute schedule, and left alone
    integration = ok(
        "POST",
        "/v2/integrations",
        {
            "name": "fleet",
            "provider": "geotab",
            "connection": {"server": fakes.urls["geotab"], "database": "demo", "feeds": ["StatusData"]},
            "credentials": {"userName": "ops@example.com", "password": "s3cret"},
            "resources": [{"externalId": "b1", "thingId": thing}],
            "templateId": template,
            "scheduleMinutes": 1,
        },
    )["id"]

    # Then within a few schedule ticks the thing's latest event has b1's last state of charge
    b1 = [r for r in fakes.geotab.feeds["StatusData"] if r["device"]["id"] == "b1"]
    last_soc = [r for r in b1 if r["diagnostic"]["id"] == "DiagnosticStateOfChargeId"][-1]["data"]

    def landed() -> Any:
        answer = requests.get(f"{stack.url}/v2/things/{thing}/latest-event", headers={"X-Api-Key": key}, timeout=15)
        return answer.status_code == 200 and answer.json().get("metrics", {}).get("state_of_charge") == last_soc

    assert eventually(landed, timeout=60), "no scheduled pull brought the readings"
    assert soc in ids.values()
    # and the run that did it says what it read and wrote, and the status shows the Geotab cursor
    runs = ok("GET", f"/v2/integrations/{integration}/runs", status=200)["items"]
    done = [r for r in runs if r["state"] == "succeeded" and r["report"] and r["report"]["readingsWritten"] > 0]
    assert done and done[-1]["reason"] == "schedule", runs
    assert {s["reason"] for s in done[-1]["report"]["recordsSkipped"]} <= {"unmapped_thing"}
    status = ok("GET", f"/v2/integrations/{integration}", status=200)["status"]
    assert status["health"] == "ok" and "StatusData" in status["cursor"]["feeds"], status
    assert "s3cret" not in json.dumps(status)

    # And `telemetry-dev pull` runs one more step by hand, from the stored cursor
    assert (
        main(["--template", str(REPO / "template.yaml"), "pull", integration, "--port", str(stack.gateway.port)]) == 0
    )
