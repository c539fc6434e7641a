"""The Integrations API over HTTP against the local stack: create, read, list, replace, run,
list runs and delete, with the schedule and the secret in the stack's moto."""

from __future__ import annotations

from typing import Any

import orjson
import pytest
import requests

from tests.support import integrations_template

pytestmark = pytest.mark.e2e


def call(stack: Any, method: str, path: str, key: str, body: Any = None) -> requests.Response:
    return requests.request(method, stack.url + path, json=body, headers={"X-Api-Key": key}, timeout=10)


def test_integration_lifecycle_over_http(local_stack: Any, api_key: str) -> None:
    from telemetry.bootstrap import container

    site = call(local_stack, "POST", "/v2/sites", api_key, {"name": "depot"}).json()["id"]
    thing = call(local_stack, "POST", f"/v2/sites/{site}/things", api_key, {"thingName": "van"}).json()["id"]
    body = {
        "name": "fleet",
        "provider": "zubie",
        "connection": {"baseUrl": "http://127.0.0.1:9/zubie"},
        "credentials": {"apiKey": "zubie-e2e-secret"},
        "scheduleMinutes": 5,
        "resources": [{"externalId": "veh-1", "thingId": thing}],
        "templateId": integrations_template(api_key),
    }

    made = call(local_stack, "POST", "/v2/integrations", api_key, body)
    assert made.status_code == 201, made.text
    iid = made.json()["id"]
    assert "zubie-e2e-secret" not in made.text and made.json()["credentialsSet"] is True

    got = call(local_stack, "GET", f"/v2/integrations/{iid}", api_key)
    assert got.status_code == 200 and got.json()["status"]["health"] == "never_run", got.text
    listed = call(local_stack, "GET", "/v2/integrations?pageLimit=500", api_key)
    assert listed.status_code == 200 and iid in [i["id"] for i in listed.json()["items"]]

    scheduler = local_stack.client("scheduler")
    org = container().keys.authenticate(api_key).org_id
    group = container().settings.scheduler_group
    schedule = scheduler.get_schedule(Name=f"{org}.{iid}", GroupName=group)
    assert schedule["ScheduleExpression"] == "rate(5 minutes)"
    assert orjson.loads(schedule["Target"]["Input"])["integration_id"] == iid

    replaced = call(
        local_stack, "PUT", f"/v2/integrations/{iid}", api_key, {**body, "credentials": None, "enabled": False}
    )
    assert replaced.status_code == 200 and replaced.json()["enabled"] is False, replaced.text
    assert scheduler.get_schedule(Name=f"{org}.{iid}", GroupName=group)["State"] == "DISABLED"

    started = call(local_stack, "POST", f"/v2/integrations/{iid}/runs", api_key)
    assert started.status_code == 202, started.text
    runs = call(local_stack, "GET", f"/v2/integrations/{iid}/runs", api_key)
    assert runs.status_code == 200 and [r["runId"] for r in runs.json()["items"]] == [started.json()["runId"]]

    deleted = call(local_stack, "DELETE", f"/v2/integrations/{iid}", api_key)
    assert (deleted.status_code, deleted.text) == (204, "")
    assert call(local_stack, "GET", f"/v2/integrations/{iid}", api_key).status_code == 404
    assert scheduler.list_schedules(GroupName=group)["Schedules"] == []
