"""The client cannot drift from the server: its route table and request models are walked against
``shared/openapi.json`` (generated from the handlers by `make openapi`) and every disagreement
(a route missing on either side, a path or query parameter, a body component, a property or a
required field) fails this test."""

from __future__ import annotations

import copy
import inspect
import json
from typing import Any, get_args, get_origin

import telemetry_client.models as models
from telemetry_client import AsyncClient, Client
from telemetry_client.routes import ROUTES, Route

from tests.support import REPO

OPENAPI = json.loads((REPO / "shared" / "openapi.json").read_text())
METHODS = ("get", "post", "put", "patch", "delete")


def _typeddicts() -> dict[str, Any]:
    return {
        name: value
        for name, value in vars(models).items()
        if isinstance(value, type) and issubclass(value, dict) and hasattr(value, "__required_keys__")
    }


def _compare_model(name: str, model: Any, schema: dict[str, Any], where: str) -> list[str]:
    problems = []
    props = set(schema.get("properties", {}))
    keys = set(model.__required_keys__) | set(model.__optional_keys__)
    if keys != props:
        problems.append(f"{where}: {name} fields {sorted(keys ^ props)} differ from the schema's")
    if set(model.__required_keys__) != set(schema.get("required", [])):
        problems.append(
            f"{where}: {name} requires {sorted(model.__required_keys__)}, the schema {sorted(schema.get('required', []))}"
        )
    return problems


def disagreements(doc: dict[str, Any], routes: dict[str, Route] = ROUTES) -> list[str]:
    problems: list[str] = []
    documented = {(p, m.upper()): op for p, ops in doc["paths"].items() for m, op in ops.items() if m in METHODS}
    table = {(r.path, r.method): r for r in routes.values()}
    for key in sorted(set(documented) - set(table)):
        problems.append(f"{key[1]} {key[0]}: in openapi.json, not in the client")
    for key in sorted(set(table) - set(documented)):
        problems.append(f"{key[1]} {key[0]}: in the client, not in openapi.json")
    schemas = doc["components"]["schemas"]
    for key, op in documented.items():
        route = table.get(key)
        if route is None:
            continue
        where = f"{key[1]} {key[0]}"
        params = op.get("parameters", [])
        path_params = {p["name"] for p in params if p["in"] == "path"}
        if path_params != set(route.path_params):
            problems.append(f"{where}: path parameters {sorted(route.path_params)} != {sorted(path_params)}")
        query = {p["name"] for p in params if p["in"] == "query"}
        # the dialects' own query parameters are in their documents (docs/dakkio.md), not openapi.json
        if query != set(route.query) and (query or key[0].startswith("/v2/")):
            problems.append(f"{where}: query parameters {sorted(route.query)} != {sorted(query)}")
        signed = key[0].endswith("/webhook")  # a provider's webhook: its signature, not a key, is the auth
        if key[0].startswith("/v2/") and not signed and op.get("security") != [{"ApiKey": []}]:
            problems.append(f"{where}: not documented as X-Api-Key")
        if key[0].startswith("/v2/") and not signed and route.auth != "api-key":
            problems.append(f"{where}: the client does not send X-Api-Key")
        body = op.get("requestBody", {}).get("content", {}).get("application/json", {}).get("schema")
        if body is None:
            continue
        if op["requestBody"].get("required") and route.body is None:
            problems.append(f"{where}: a body is required, the client sends none")
            continue
        ref = body.get("$ref", "").rsplit("/", 1)[-1]
        schema = schemas.get(ref, body)
        model = route.body
        if schema.get("type") == "array":
            if get_origin(model) is not list:
                problems.append(f"{where}: the body is an array, the client's {model} is not")
                continue
            model = get_args(model)[0]
            item_ref = schema.get("items", {}).get("$ref", "").rsplit("/", 1)[-1]
            schema = schemas.get(item_ref, schema.get("items", {}))
            if not schema.get("properties"):
                continue  # free-form items (bulk things: each item is a ThingCreate, checked below)
        elif ref and getattr(model, "__name__", None) != ref:  # an inline body is compared field by field
            problems.append(f"{where}: the body is {ref}, the client sends {getattr(model, '__name__', model)}")
            continue
        if hasattr(model, "__required_keys__"):  # a TypedDict (free-form bodies are Any)
            problems += _compare_model(ref or model.__name__, model, schema, where)
    for name, model in _typeddicts().items():  # nested components too (PropertyDefinition, ValidRange …)
        if name in schemas and schemas[name].get("properties") is not None:
            problems += _compare_model(name, model, schemas[name], f"components/{name}")
    return problems


def test_the_client_agrees_with_openapi_json() -> None:
    assert disagreements(OPENAPI) == []


def test_a_drifted_document_is_caught() -> None:
    """The checker is not vacuous: each kind of drift is reported."""
    doc = copy.deepcopy(OPENAPI)
    doc["components"]["schemas"]["MetricCreate"]["required"].append("unitLabel")
    doc["components"]["schemas"]["PlaceCreate"]["properties"]["country"] = {"type": "string"}
    doc["paths"]["/v2/things/{thingId}/history"]["get"]["parameters"].append({"in": "query", "name": "cursor"})
    doc["paths"]["/v2/widgets"] = {"get": {"security": [{"ApiKey": []}]}}
    del doc["paths"]["/v2/api-keys/{keyId}"]["delete"]
    found = "\n".join(disagreements(doc))
    assert "MetricCreate requires" in found
    assert "PlaceCreate fields ['country']" in found
    assert "GET /v2/things/{thingId}/history: query parameters" in found
    assert "GET /v2/widgets: in openapi.json, not in the client" in found
    assert "DELETE /v2/api-keys/{keyId}: in the client, not in openapi.json" in found


def test_bodies_openapi_leaves_out_match_the_domain_models() -> None:
    """openapi.json gives the template routes no body schema (they read raw JSON); their models
    are held to the domain's pydantic models instead."""
    from telemetry.models.templates import TemplateCreate, TemplateUpdate

    for ours, theirs in ((models.TemplateCreate, TemplateCreate), (models.TemplateUpdate, TemplateUpdate)):
        schema = theirs.model_json_schema(by_alias=True)
        assert _compare_model(ours.__name__, ours, schema, "domain") == []


def test_every_route_is_a_method_of_both_clients() -> None:
    """Each row has a method on Client and AsyncClient; on the async one it is a coroutine (or an
    async iterator), either its own or the shared one over the async ``_call``/``paginate``."""
    assert inspect.iscoroutinefunction(AsyncClient._call) and inspect.isasyncgenfunction(AsyncClient.paginate)
    for name, route in ROUTES.items():
        if name.endswith("things_bulk"):
            name = "create_things_bulk"  # one method for sites and fleets (fleet=True)
        sync, asyn = getattr(Client, name, None), getattr(AsyncClient, name, None)
        assert callable(sync) and callable(asyn), name
        if asyn is sync:  # shared (BaseClient): returns whatever _call / paginate return
            assert inspect.signature(asyn).return_annotation in ("R", "P"), name
            assert (inspect.signature(asyn).return_annotation == "P") == (route.items is not None), name
        else:
            assert inspect.iscoroutinefunction(asyn) or inspect.isasyncgenfunction(asyn), name
