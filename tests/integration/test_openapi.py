"""shared/openapi.json is a checked artefact: valid OpenAPI, and exactly what the handlers say."""

from __future__ import annotations

import json

from openapi_spec_validator import validate

from tests.integration.conftest import REPO, Platform


def test_committed_openapi_matches_the_handlers(platform: Platform) -> None:
    from devstack.openapi import build

    committed = json.loads((REPO / "shared" / "openapi.json").read_text())
    assert build(platform.template) == committed, "shared/openapi.json is stale: run `make openapi`"


def test_openapi_is_valid_and_documents_problem_refusals() -> None:
    doc = json.loads((REPO / "shared" / "openapi.json").read_text())
    validate(doc)
    create = doc["paths"]["/v2/definitions/metrics"]["post"]
    assert create["requestBody"]["content"]["application/json"]["schema"]["$ref"].endswith("/MetricCreate")
    assert set(create["responses"]) >= {"400", "401", "403", "404", "413"}
    assert "422" not in create["responses"]
