"""Integrations templates through the real template routes (authorizer, handlers, DynamoDB on moto).

Every example of docs/examples/integrations/ is created as a user would (its metrics first), and its
provider sample dry-runs to the expected readings; refusals name the field; an Integrations
template is not applied to a thing.
"""

from __future__ import annotations

from typing import Any

import pytest
from telemetry.clock import iso_from_ms

from tests.integration.conftest import Platform
from tests.integration_examples import EXPECTED_READINGS, EXPECTED_REPORT, RECORDS, placeholder_metrics, template_body


class Org:
    def __init__(self, p: Platform, name: str) -> None:
        self.p = p
        self.key = p.key(name)
        self.ids = {
            placeholder: self.ok("POST", "/v2/definitions/metrics", body)["id"]
            for placeholder, body in placeholder_metrics().items()
        }
        self.site = self.ok("POST", "/v2/sites", {"name": "S"})["id"]
        type_id = self.ok(
            "POST", "/v2/definitions/thing-types", {"displayName": "V", "metricIds": list(self.ids.values())}
        )["id"]
        self.thing = self.ok("POST", f"/v2/sites/{self.site}/things", {"thingName": "v", "thingTypeId": type_id})["id"]

    def call(self, method: str, path: str, body: Any = None, **query: Any) -> Any:
        return self.p.call(method, path, body, key=self.key, query=query or None)

    def ok(self, method: str, path: str, body: Any = None, **query: Any) -> Any:
        answer = self.call(method, path, body, **query)
        assert answer.status in (200, 201), (method, path, answer)
        return answer.body

    def real(self, value: Any) -> Any:
        """Placeholder metric ids of the expectations replaced by this org's ids."""
        if isinstance(value, dict):
            return {self.ids.get(k, k): self.real(v) for k, v in value.items()}
        if isinstance(value, list):
            return [self.real(v) for v in value]
        return self.ids.get(value, value) if isinstance(value, str) else value


@pytest.fixture(scope="module")
def org(platform: Platform) -> Org:
    return Org(platform, "acme-integrations-templates")


def problem(answer: Any, status: int, reason: str | None = None) -> dict[str, Any]:
    assert answer.status == status, answer
    assert answer.header("Content-Type") == "application/problem+json"
    if reason:
        assert answer.body["type"] == f"urn:telemetry:problem:{reason}", answer.body
    return dict(answer.body)


@pytest.mark.parametrize("example", sorted(EXPECTED_READINGS))
def test_each_example_is_created_and_dry_runs_its_provider_sample(org: Org, example: str) -> None:
    # Given the example template, created through the real route
    created = org.call("POST", "/v2/templates", template_body(example, org.ids))
    assert created.status == 201, created
    template = created.body
    assert template["target"] == "Integrations" and template["id"].startswith("tmpl_")
    # When its provider sample is dry-run
    records = RECORDS[example]()
    body = {"recordType": records[0].record_type, "records": [dict(r.data) for r in records]}
    out = org.ok("POST", f"/v2/templates/{template['id']}/test", body)
    # Then the readings, keyed by external id, are the expected ones, and so is the report
    assert out["readings"] == {
        ext: [{"timestamp": ts, "time": iso_from_ms(ts), "metrics": org.real(values)} for ts, values in rows]
        for ext, rows in EXPECTED_READINGS[example].items()
    }
    assert {k: out[k] for k in EXPECTED_REPORT[example]} == org.real(EXPECTED_REPORT[example])
    assert out["previewOnly"] is True and out["templateRevision"] == 1 and out["recordsParsed"] == len(records)
    assert template["id"] in {t["id"] for t in org.ok("GET", "/v2/templates", target="Integrations")["items"]}


def test_create_and_update_refusals_name_the_field(org: Org) -> None:
    body = template_body("geotab-statusdata", org.ids)
    body["spec"]["rules"][0]["thing"]["pointer"] = "device/id"
    body["spec"]["rules"][1]["mappings"][0]["metricId"] = "mdef_nope"
    answer = problem(org.call("POST", "/v2/templates", body), 400, "invalid-template")
    assert {e["path"] for e in answer["errors"]} == {"spec/rules/0/thing/pointer", "spec/rules/1/mappings/0/metricId"}
    assert set(answer["reasons"]) == {"invalid-pointer", "unknown-metric"}
    created = org.ok("POST", "/v2/templates", template_body("zubie-trip-points", org.ids))
    spec = template_body("zubie-trip-points", org.ids)["spec"]
    spec["rules"][0]["timestamp"]["format"] = "epochMs"
    answer = problem(org.call("PUT", f"/v2/templates/{created['id']}", {"spec": spec}), 400, "invalid-timestamp-format")
    assert [e["path"] for e in answer["errors"]] == ["spec/rules/0/timestamp/format"]
    spec["rules"][0]["timestamp"]["format"] = "iso8601"
    spec["rules"][0]["mappings"].pop()
    assert org.ok("PUT", f"/v2/templates/{created['id']}", {"spec": spec})["revision"] == 2


def test_a_dry_run_body_that_is_not_provider_records_names_the_field(org: Org) -> None:
    created = org.ok("POST", "/v2/templates", template_body("utilityapi-intervals", org.ids))
    answer = problem(org.call("POST", f"/v2/templates/{created['id']}/test", {"records": [[]]}), 400)
    assert {e["path"] for e in answer["errors"]} == {"recordType", "records/0"}


def test_an_integrations_template_is_not_applied_to_a_thing(platform: Platform, org: Org) -> None:
    created = org.ok("POST", "/v2/templates", template_body("geotab-logrecord", org.ids))
    answer = org.call("POST", f"/v2/thing/{org.thing}/data/template/{created['id']}", {"data": []})
    body = problem(answer, 400, "wrong-target")
    assert "targets Integrations" in body["errors"][0]["message"] and body["errors"][0]["path"] == "templateId"
