"""aerovy-ingesting-data.md, steps 1-4 and "Verify", over HTTP against the local stack, with the
document's own request bodies (placeholders substituted with the ids the platform returned)."""

from __future__ import annotations

import filecmp
import time
from pathlib import Path
from typing import Any

import pytest
import requests

from tests.contract.spec_examples import SPEC_DIR, json_blocks, substitute

pytestmark = pytest.mark.e2e
DOC = "aerovy-ingesting-data.md"
METRIC, THING_TYPE, THING, FRAMES, INGEST_RESPONSE, _APPLY_REPORT = json_blocks(DOC)


def test_spec_copy_is_current() -> None:
    upstream = Path(__file__).resolve().parents[3] / "shared" / "spec"
    if not upstream.is_dir():
        pytest.skip("no ../shared/spec beside the repo: the vendored copy is the contract")
    for doc in upstream.glob("*.md"):
        assert filecmp.cmp(doc, SPEC_DIR / doc.name, shallow=False), f"{doc.name} changed upstream: refresh the copy"


class Client:
    def __init__(self, base: str, key: str) -> None:
        self.base, self.session = base, requests.Session()
        self.session.headers.update({"X-Api-Key": key, "Content-Type": "application/json"})

    def post(self, path: str, body: Any) -> requests.Response:
        return self.session.post(self.base + path, json=body, timeout=10)

    def get(self, path: str, **params: Any) -> requests.Response:
        return self.session.get(self.base + path, params=params, timeout=10)


@pytest.fixture(scope="module")
def client(local_stack: Any, api_key: str) -> Client:
    return Client(local_stack.url, api_key)


def test_steps_1_to_4_as_written(client: Client) -> None:
    # Step 1: the document's metric, then "repeat for every metric your device reports (soh, moduleVoltage, …)"
    created = client.post("/v2/definitions/metrics", METRIC)
    assert created.status_code == 201, created.text
    assert created.json()["id"].startswith("mdef_")
    ids = {"soc": created.json()["id"]}
    for name in ("soh", "moduleVoltage"):
        ids[name] = client.post("/v2/definitions/metrics", {**METRIC, "name": name, "displayName": name}).json()["id"]

    # Step 2: the document's thing type, its mdef_<...> placeholders replaced
    thing_type = client.post(
        "/v2/definitions/thing-types", substitute(THING_TYPE, {f"mdef_<{k}>": v for k, v in ids.items()})
    )
    assert thing_type.status_code == 201, thing_type.text
    body = thing_type.json()
    assert body["id"].startswith("tdefi_") and body["versionId"].startswith("tdef_")

    # Step 3: a site, then the document's thing in it
    site = client.post("/v2/sites", {"name": "Plant 1"}).json()["id"]
    thing = client.post(f"/v2/sites/{site}/things", substitute(THING, {"tdefi_<batteryType>": body["id"]}))
    assert thing.status_code == 201, thing.text
    thing_id = thing.json()["id"]
    assert client.get(f"/v2/things/{thing_id}").json()["properties"] == {"capacity": 75.0}

    # Step 4: the document's frame uses names its own steps never define (status, moduleSoC, ...);
    # exactly as the "Validation rules" table says, that is a 400 naming them ...
    refused = client.post(f"/v2/thing/{thing_id}/data", FRAMES)
    assert refused.status_code == 400
    assert "frames/0/metrics/moduleSoC" in {e["path"] for e in refused.json()["errors"]}

    # ... and once the type defines them, the same body is accepted with the document's response.
    frame_metrics = list(FRAMES["frames"][0]["metrics"])
    for name in frame_metrics:
        if name not in ids:
            dtype = "Int" if name == "status" else "Double"
            ids[name] = client.post(
                "/v2/definitions/metrics", {"name": name, "dataType": dtype, "defaultAggregation": "Last"}
            ).json()["id"]
    full_type = client.post(
        "/v2/definitions/thing-types", {"displayName": "Module", "metricIds": [ids[n] for n in frame_metrics]}
    ).json()["id"]
    module = client.post(f"/v2/sites/{site}/things", {"thingName": "Module 1", "thingTypeId": full_type}).json()["id"]
    accepted = client.post(f"/v2/thing/{module}/data", FRAMES)
    assert accepted.status_code == 200, accepted.text
    assert accepted.json() == substitute(INGEST_RESPONSE, {"<thingId>": module})

    # Verify: GET /v2/things/{thingId}/latest-event
    deadline = time.monotonic() + 5
    while True:
        latest = client.get(f"/v2/things/{module}/latest-event").json()
        if latest["timestamp"] is not None or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    assert latest["timestamp"] == FRAMES["frames"][0]["timestamp"]
    assert latest["metrics"] == FRAMES["frames"][0]["metrics"]


def test_out_of_range_property_is_rejected_naming_it(client: Client) -> None:
    mid = client.post("/v2/definitions/metrics", {**METRIC, "name": "soc2"}).json()["id"]
    type_id = client.post(
        "/v2/definitions/thing-types",
        substitute(THING_TYPE, {"mdef_<soc>": mid, "mdef_<soh>": mid, "mdef_<moduleVoltage>": mid}),
    ).status_code
    assert type_id == 400  # the document's metricIds repeat once substituted with one id: refused
    type_id = client.post("/v2/definitions/thing-types", {**THING_TYPE, "metricIds": [mid]}).json()["id"]
    site = client.post("/v2/sites", {"name": "S"}).json()["id"]
    for props, message in (({"capacity": "175"}, "<= 100"), ({"colour": "red"}, "not defined")):
        answer = client.post(f"/v2/sites/{site}/things", {**THING, "thingTypeId": type_id, "properties": props})
        assert answer.status_code == 400
        assert answer.headers["Content-Type"] == "application/problem+json"
        (error,) = answer.json()["errors"]
        assert error["path"].startswith("properties/") and message in error["message"]
