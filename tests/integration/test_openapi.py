"""shared/openapi.json is a checked artefact: valid OpenAPI, and exactly what the handlers say."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
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
    assert set(create["responses"]) == {"201", "400", "401", "403", "409", "413", "415", "429", "503"}
    assert create["responses"]["409"]["description"] == "a metric of that name already exists in the organization"
    # a route answers only what its code can: no resource named in the path, nothing to miss
    assert "404" not in doc["paths"]["/v2/definitions/metrics"]["get"]["responses"]


def test_every_operation_documents_its_exact_success_and_every_refusal() -> None:
    doc = json.loads((REPO / "shared" / "openapi.json").read_text())
    for path, item in doc["paths"].items():
        for method, operation in item.items():
            statuses = set(operation["responses"])
            assert not any(s.endswith("XX") for s in statuses), (method, path, statuses)
            assert {s for s in statuses if s.startswith("2")}, (method, path, "no success status")
            assert {"413", "429", "503"} <= statuses, (method, path, statuses)
    # the platform answers problem+json; the bucket dialect its own body; each dialect its credential
    assert doc["paths"]["/api/data"]["post"]["responses"]["400"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/BucketError"
    }
    assert doc["paths"]["/api/data"]["post"]["security"] == [{"BucketApiKey": []}]
    assert doc["paths"]["/ingestion/v1/measurements"]["post"]["security"] == [{"SensorKey": []}]
    assert "422" in doc["paths"]["/ingestion/v1/measurements"]["post"]["responses"]
    assert doc["paths"]["/ingestion/v1/parameters"]["get"]["security"] == []
    sites = doc["paths"]["/v2/sites/{placeId}"]["get"]["responses"]["200"]["content"]["application/json"]
    assert sites["schema"] == {"$ref": "#/components/schemas/Place"}
    bulk = doc["paths"]["/v2/sites/{placeId}/things/bulk"]["post"]["responses"]
    assert {"201", "207"} <= set(bulk)
    assert "204" in doc["paths"]["/v2/api-keys/{keyId}"]["delete"]["responses"]
    assert doc["paths"]["/v2/definitions/metrics"]["post"]["requestBody"]["content"]["application/json"]["examples"]


def test_two_models_of_one_name_keep_their_own_schemas() -> None:
    """Thing types' ValueType (string/double/int/bool) and the bucket dialect's (number/...) once
    shared one component, so thing types documented values their validation refuses."""
    doc = json.loads((REPO / "shared" / "openapi.json").read_text())
    schemas = doc["components"]["schemas"]
    enums = {tuple(s["enum"]) for name, s in schemas.items() if name.startswith("ValueType")}
    assert ("string", "double", "int", "bool") in enums and ("number", "integer", "boolean", "string") in enums


def test_the_generator_reads_a_handler_it_has_never_seen(tmp_path: Path) -> None:
    """No per-route table: a new handler's status and model come from its code, and a handler it
    cannot follow gets its method's default."""
    import importlib.util

    from devstack.handler_types import success_of

    (tmp_path / "app.py").write_text(
        "from telemetry.http.app import build_app, json_response\n"
        "from telemetry.models.places import Place\n"
        "app = build_app()\n"
        "def make() -> Place: ...\n"
        "@app.post('/v2/integrations/<integrationId>/run')\n"
        "def run(integrationId: str):\n"
        "    result = make()\n"
        "    return json_response(202 if integrationId else 200, result)\n"
        "@app.delete('/v2/integrations/<integrationId>')\n"
        "def remove(integrationId: str):\n"
        "    return something(integrationId)\n"
    )
    spec = importlib.util.spec_from_file_location("fn_unseen", tmp_path / "app.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    from telemetry.models.places import Place

    run = success_of(module, "post", "/v2/integrations/{integrationId}/run")
    assert run.statuses == (200, 202) and run.body_type is Place
    assert success_of(module, "delete", "/v2/integrations/{integrationId}").statuses == (204,)
    assert success_of(module, "get", "/v2/integrations").statuses == (200,)


def test_the_documented_answer_check_refuses_a_body_off_its_schema() -> None:
    from tests.support import assert_documented_answer, openapi_document

    doc = openapi_document()
    with pytest.raises(AssertionError, match="does not match"):
        assert_documented_answer(doc, "GET", "/v2/sites/{placeId}", 200, "application/json", {"id": "x"})
    with pytest.raises(AssertionError, match="not documented"):
        assert_documented_answer(doc, "GET", "/v2/sites/{placeId}", 418, "application/json", {})
    with pytest.raises(AssertionError, match="answered"):
        assert_documented_answer(doc, "GET", "/v2/sites/{placeId}", 404, "application/json", {})


def test_every_example_matches_its_own_schema() -> None:
    """Request and success examples (from the spec documents) are valid by the schema beside them."""
    from jsonschema import Draft202012Validator

    doc = json.loads((REPO / "shared" / "openapi.json").read_text())
    seen = 0
    for path, item in doc["paths"].items():
        for method, operation in item.items():
            medias = [operation.get("requestBody", {}).get("content", {}).get("application/json")]
            medias += [
                a.get("content", {}).get("application/json") for s, a in operation["responses"].items() if s[0] == "2"
            ]
            for media in filter(None, medias):
                validator = Draft202012Validator({**media["schema"], "components": doc["components"]})
                for name, example in media.get("examples", {}).items():
                    seen += 1
                    errors = list(validator.iter_errors(example["value"]))
                    assert not errors, (method, path, name, errors[0].message)
    assert seen >= 15


def test_no_schema_carries_pydantic_keywords_instead_of_json_schema_ones() -> None:
    """``ge``/``le`` instead of ``minimum``/``maximum`` (pydantic, for bounds after a validator):
    clients and schemathesis ignore them, so the document would be looser than the validation."""
    text = (REPO / "shared" / "openapi.json").read_text()
    assert not re.findall(r'"(ge|le|gt|lt|max_length|min_length)":', text)


def _schemaless(schema: dict[str, Any], components: dict[str, Any]) -> bool:
    """A schema that constrains nothing a client reads: ``{}``, or an object/array with no
    properties/items (what ``dict``/``list`` answers became before they were typed)."""
    if "$ref" in schema:
        return _schemaless(components[schema["$ref"].rsplit("/", 1)[-1]], components)
    if not schema:
        return True
    if schema.get("type") == "object":
        return not (schema.get("properties") or schema.get("additionalProperties") not in (None, True))
    if schema.get("type") == "array":
        return not schema.get("items")
    return False


def test_every_success_body_has_a_real_schema() -> None:
    """No 2xx with a body may be documented as ``{}`` or a bare object/array: schemathesis'
    response_schema_conformance would then check nothing. There is no exemption list: a handler
    answering a dict (or anything the generator cannot follow to a model) fails here."""
    doc = json.loads((REPO / "shared" / "openapi.json").read_text())
    components = doc["components"]["schemas"]
    schemaless: set[tuple[str, str, str]] = set()
    for path, item in doc["paths"].items():
        for method, operation in item.items():
            for status, answer in operation["responses"].items():
                if not status.startswith("2") or status == "204":
                    continue
                media = answer.get("content", {}).get("application/json")
                assert media is not None and "schema" in media, (method, path, status, "no body schema")
                if _schemaless(media["schema"], components):
                    schemaless.add((method, path, status))
    assert schemaless == set(), "success bodies documented without a schema: answer a typed model"


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("post", "/api/data"),
        ("post", "/api/data/batch"),
        ("get", "/api/data"),
        ("get", "/v2/data-streams/metrics/{metricName}"),
    ],
)
def test_the_dialect_answers_refuse_undeclared_fields(method: str, path: str) -> None:
    """Their models forbid extra fields (telemetry.models.base.Answer), and so does every object of
    their schema (``additionalProperties: false``), so that a field a handler adds without
    documenting it fails schemathesis' response check instead of drifting from the document."""
    doc = json.loads((REPO / "shared" / "openapi.json").read_text())
    components = doc["components"]["schemas"]
    status = next(s for s in doc["paths"][path][method]["responses"] if s.startswith("2"))
    ref = doc["paths"][path][method]["responses"][status]["content"]["application/json"]["schema"]["$ref"]
    pending, seen = [ref.rsplit("/", 1)[-1]], set()
    while pending:
        name = pending.pop()
        if name in seen:
            continue
        seen.add(name)
        if components[name].get("type") == "object":
            assert components[name].get("additionalProperties") is False, (method, path, name)
        pending += [r.rsplit("/", 1)[-1] for r in re.findall(r'"\$ref": "([^"]+)"', json.dumps(components[name]))]
    assert len(seen) >= 2, (method, path, seen)  # the answer and its nested model(s)


def test_the_schemaless_check_sees_through_refs_and_bare_containers() -> None:
    components = {"Open": {"type": "object"}, "Typed": {"type": "object", "properties": {"a": {}}}}
    assert _schemaless({}, components) and _schemaless({"$ref": "#/components/schemas/Open"}, components)
    assert _schemaless({"type": "array"}, components)
    assert not _schemaless({"$ref": "#/components/schemas/Typed"}, components)
    assert not _schemaless({"type": "array", "items": {"type": "string"}}, components)
