"""The whole pull path with nothing stood in: an integration created through the API against the
local Geotab fake, a manual run, the real Geotab connector and template mapping in the pull
function, the readings through the readings queue and the writer onto latest-event."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from devstack.fakes import RunningFakes, start_fakes

from tests.integration.conftest import REPO, Platform, drain

EXAMPLES = REPO / "docs" / "examples" / "integrations"


@pytest.fixture
def fakes(platform: Platform, monkeypatch: pytest.MonkeyPatch) -> Iterator[RunningFakes]:
    """The provider fakes on loopback, and a composition root that may reach them."""
    from telemetry.bootstrap import container

    monkeypatch.setenv("INTEGRATIONS_ALLOW_LOOPBACK", "true")
    container.cache_clear()
    with start_fakes() as running:
        yield running
    monkeypatch.delenv("INTEGRATIONS_ALLOW_LOOPBACK")
    container.cache_clear()


def drain_all(p: Platform) -> None:
    while drain(p) > 0:
        pass


def test_a_manual_run_against_the_geotab_fake_lands_on_latest_event(platform: Platform, fakes: RunningFakes) -> None:
    key = platform.key(f"geotab-{uuid.uuid4().hex[:8]}")

    def ok(method: str, path: str, body: Any = None, status: int = 201) -> Any:
        answer = platform.call(method, path, body, key=key)
        assert answer.status == status, (method, path, answer)
        return answer.body

    # Given the example metrics and the example StatusData template, with this org's metric ids
    examples = json.loads((EXAMPLES / "metrics.json").read_text())
    ids = {name: ok("POST", "/v2/definitions/metrics", body)["id"] for name, body in examples.items()}
    spec_text = (EXAMPLES / "geotab-statusdata.template.json").read_text()
    for placeholder, real in ids.items():
        spec_text = spec_text.replace(f'"{placeholder}"', f'"{real}"')
    template = ok("POST", "/v2/templates", json.loads(spec_text))["id"]
    soc, odo = ids["mdef_state_of_charge"], ids["mdef_odometer_km"]
    type_id = ok("POST", "/v2/definitions/thing-types", {"displayName": "Truck", "metricIds": [soc, odo]})["id"]
    site = ok("POST", "/v2/sites", {"name": "Depot"})["id"]
    thing = ok("POST", f"/v2/sites/{site}/things", {"thingName": "Truck 1", "thingTypeId": type_id})["id"]
    # and an integration of Geotab device b1 onto the thing, 50 records a page
    integration = ok(
        "POST",
        "/v2/integrations",
        {
            "name": "fleet",
            "provider": "geotab",
            "connection": {
                "server": fakes.urls["geotab"],
                "database": "demo",
                "feeds": ["StatusData"],
                "resultsLimit": 50,
            },
            "credentials": {"userName": "ops@example.com", "password": "s3cret"},
            "resources": [{"externalId": "b1", "thingId": thing}],
            "templateId": template,
        },
    )["id"]
    # When a run is started and the queues drain (pull steps, then the writer)
    run_id = ok("POST", f"/v2/integrations/{integration}/runs", status=202)["runId"]
    drain_all(platform)
    # Then the run paged through the whole feed and wrote b1's readings (b2 and b3 are not mapped)
    runs = ok("GET", f"/v2/integrations/{integration}/runs", status=200)["items"]
    (run,) = [r for r in runs if r["runId"] == run_id]
    assert run["state"] == "succeeded", run
    assert run["pages"] > 1 and run["report"]["readingsWritten"] > 0, run
    assert {s["reason"] for s in run["report"]["recordsSkipped"]} <= {"unmapped_thing"}, run["report"]
    # and the thing's latest event has both metrics of the fake's last b1 report
    b1 = [r for r in fakes.geotab.feeds["StatusData"] if r["device"]["id"] == "b1"]
    last_soc = [r for r in b1 if r["diagnostic"]["id"] == "DiagnosticStateOfChargeId"][-1]
    last_odo = [r for r in b1 if r["diagnostic"]["id"] == "DiagnosticOdometerId"][-1]
    latest = ok("GET", f"/v2/things/{thing}/latest-event", status=200)
    assert latest["metrics"]["state_of_charge"] == last_soc["data"], latest
    assert latest["metrics"]["odometer_km"] == pytest.approx(last_odo["data"] * 0.001), latest
    # and the status shows the Geotab cursor and totals, and no secret
    status = ok("GET", f"/v2/integrations/{integration}", status=200)["status"]
    assert status["health"] == "ok" and "StatusData" in status["cursor"]["feeds"], status
    assert status["totals"]["records"] == len(fakes.geotab.feeds["StatusData"]), status
    assert "s3cret" not in json.dumps(status)


PROVIDERS: dict[str, dict[str, Any]] = {
    # provider: its example template, a device the fake seeds, its connection and credentials, a metric
    "zubie": {
        "template": "zubie-trip-points.template.json",
        "external_id": "veh1",
        "connection": lambda f: {"baseUrl": f.urls["zubie"]},
        "credentials": {"apiKey": "zubie-test-key"},
        "metric": "latitude",
    },
    # OAuth2 with an access token Zubie has expired: the run refreshes it first, and the rotated
    # refresh token is written back to the integration's secret (checked below)
    "zubie-oauth": {
        "provider": "zubie",
        "template": "zubie-trip-points.template.json",
        "external_id": "veh1",
        "connection": lambda f: {"baseUrl": f.urls["zubie"], "tokenUrl": f.zubie.url + "/oauth/token"},
        "credentials": {
            "accessToken": "zubie-test-token",
            "refreshToken": "zubie-test-refresh",
            "clientId": "zubie-test-client",
            "clientSecret": "zubie-test-client-secret",
        },
        "before": lambda f: f.zubie.expire_session(),
        "metric": "latitude",
    },
    "utilityapi": {
        "template": "utilityapi-intervals.template.json",
        "external_id": "101",
        "connection": lambda f: {"baseUrl": f.urls["utilityapi"]},
        "credentials": {"apiToken": "uapi-test-token"},
        "metric": "energy_kwh",
    },
}


@pytest.mark.parametrize("provider", sorted(PROVIDERS))
def test_a_manual_run_against_each_fake_maps_its_real_records_with_the_example_template(
    platform: Platform, fakes: RunningFakes, provider: str
) -> None:
    """The connector's records (the provider's wire shape plus the ids it copies in) and the
    example template agree: readings land, and nothing is skipped but unmapped devices."""
    case = PROVIDERS[provider]
    key = platform.key(f"{provider}-{uuid.uuid4().hex[:8]}")

    def ok(method: str, path: str, body: Any = None, status: int = 201) -> Any:
        answer = platform.call(method, path, body, key=key)
        assert answer.status == status, (method, path, answer)
        return answer.body

    examples = json.loads((EXAMPLES / "metrics.json").read_text())
    ids = {name: ok("POST", "/v2/definitions/metrics", body)["id"] for name, body in examples.items()}
    spec_text = (EXAMPLES / case["template"]).read_text()
    for placeholder, real in ids.items():
        spec_text = spec_text.replace(f'"{placeholder}"', f'"{real}"')
    template = ok("POST", "/v2/templates", json.loads(spec_text))["id"]
    type_id = ok("POST", "/v2/definitions/thing-types", {"displayName": provider, "metricIds": list(ids.values())})[
        "id"
    ]
    site = ok("POST", "/v2/sites", {"name": "Site"})["id"]
    thing = ok("POST", f"/v2/sites/{site}/things", {"thingName": "Device 1", "thingTypeId": type_id})["id"]
    integration = ok(
        "POST",
        "/v2/integrations",
        {
            "name": provider,
            "provider": case.get("provider", provider),
            "connection": case["connection"](fakes),
            "credentials": case["credentials"],
            "resources": [{"externalId": case["external_id"], "thingId": thing}],
            "templateId": template,
        },
    )["id"]
    case.get("before", lambda f: None)(fakes)
    run_id = ok("POST", f"/v2/integrations/{integration}/runs", status=202)["runId"]
    drain_all(platform)
    runs = ok("GET", f"/v2/integrations/{integration}/runs", status=200)["items"]
    (run,) = [r for r in runs if r["runId"] == run_id]
    assert run["state"] == "succeeded", run
    assert run["report"]["readingsWritten"] > 0, run
    if "refreshToken" in case["credentials"]:
        secrets = boto3.client("secretsmanager")
        (name,) = [e["Name"] for e in secrets.list_secrets()["SecretList"] if e["Name"].endswith(f"/{integration}")]
        secret = json.loads(secrets.get_secret_value(SecretId=name)["SecretString"])
        assert secret["refreshToken"] in fakes.zubie.refresh_tokens and secret["accessToken"] in fakes.zubie.tokens
        assert secret["refreshToken"] != case["credentials"]["refreshToken"]
    assert {s["reason"] for s in run["report"]["recordsSkipped"]} <= {"unmapped_thing"}, run["report"]
    latest = ok("GET", f"/v2/things/{thing}/latest-event", status=200)
    assert case["metric"] in latest["metrics"], latest
