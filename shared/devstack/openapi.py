"""Build one OpenAPI document for the whole API from the handlers themselves.

Each function's powertools resolver knows its route, parameters and request model; the success
status and the response model are read from the handler's code (:mod:`devstack.handler_types`);
a handler that parses its body itself describes it in a module-level ``OPENAPI`` fragment
(``requestBody``, ``parameters``), which is merged in. On top of that this adds what powertools
cannot know, by rules that hold for any route (none is named here):

* refusals: RFC 9457 problem+json (not powertools' 422 ``HTTPValidationError``), every status a
  route can answer: 400, 413 (gateway and handler), 429 (gateway throttling and rate limits, with
  ``Retry-After``), 503 (a dependency unavailable); 401/403 behind the API-key authorizer; 404
  for a path naming a resource (or any authorizer route: another organization's resource);
  409 on writes; 415 on routes with a body; 422 and 424 where templates run and thing data
  is resolved. The dialects with their own error shapes (``telemetry.http.dakkio``,
  ``telemetry.http.ambiquality`` ingestion) get their documents' bodies and statuses instead.
* security: ``ApiKey`` (X-Api-Key, the authorizer) on the platform routes; the dialect routes
  (``Auth: NONE``) declare the credential their handler reads: ``BucketApiKey`` (X-API-Key),
  ``SensorKey`` (X-Sensor-Key), or none (the stream token is a body field; the catalog is public).
* examples: a pydantic model's ``examples`` become the media type's ``examples``.

``shared/openapi.json`` is the committed result; a test fails when it drifts from the code
(`make openapi` refreshes it).
"""

from __future__ import annotations

import ast
import copy
import dataclasses
import inspect
import json
import re
from collections.abc import Mapping
from pathlib import Path
from types import ModuleType
from typing import Any, Literal

from pydantic import BaseModel, TypeAdapter

from .handler_types import success_of
from .lambdas import load_function
from .template import Template

PROBLEM = {
    "type": "object",
    "description": "RFC 9457 problem details",
    "required": ["type", "title"],
    "properties": {
        "type": {"type": "string", "example": "urn:telemetry:problem:validation-error"},
        "title": {"type": "string"},
        "status": {"type": "integer", "minimum": 400, "maximum": 599},
        "detail": {"type": "string"},
        "instance": {"type": "string"},
        "errors": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["path", "message"],
                "properties": {"path": {"type": "string"}, "message": {"type": "string"}},
            },
        },
    },
}
#: the bucket dialect's error body (docs/dakkio.md): ``{error, message[, details]}``
BUCKET_ERROR = {
    "type": "object",
    "description": "The bucket dialect's error body",
    "required": ["error", "message"],
    "properties": {
        "error": {"type": "string", "example": "Validation Error"},
        "message": {"type": "string", "example": "Invalid request parameters"},
        "details": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["path", "message"],
                "properties": {
                    "path": {"type": "array", "items": {"type": ["string", "integer"]}},
                    "message": {"type": "string"},
                },
            },
        },
    },
}
#: the sensor ingestion dialect's problem (docs/ambiquality.md): types ``urn:ambiquality:ingestion:*``
SENSOR_PROBLEM = {
    "type": "object",
    "description": "RFC 9457 problem details of the sensor ingestion dialect",
    "required": ["type", "title", "status"],
    "properties": {
        "type": {
            "type": "string",
            "pattern": "^urn:ambiquality:ingestion:",
            "example": "urn:ambiquality:ingestion:invalid-body",
        },
        "title": {"type": "string"},
        "status": {"type": "integer"},
        "detail": {"type": "string"},
        "instance": {"type": "string"},
        "index": {"type": "integer"},
        "parameterCode": {"type": "string"},
        "retryAfter": {"type": "integer"},
        "errors": {"type": "array", "items": {"type": "object"}},
    },
}
SECURITY_SCHEMES = {
    "ApiKey": {
        "type": "apiKey",
        "in": "header",
        "name": "X-Api-Key",
        "description": "A platform API key (`make key`, POST /v2/api-keys), checked by the gateway's authorizer",
    },
    "BucketApiKey": {
        "type": "apiKey",
        "in": "header",
        "name": "X-API-Key",
        "description": "The bucket dialect: a platform API key checked by the handler (its 401 body is the dialect's)",
    },
    "SensorKey": {
        "type": "apiKey",
        "in": "header",
        "name": "X-Sensor-Key",
        "description": "A sensor's secret key (POST /v2/rooms/{roomId}/sensors, rotate-key)",
    },
}
#: the credential helper a handler calls -> the scheme it documents
_CREDENTIAL_CALLS = {"api_key": "BucketApiKey", "sensor_key": "SensorKey"}

_DESCRIPTIONS = {
    400: "Invalid request (malformed JSON or a field error; the body names each field)",
    401: "Missing or invalid credential",
    403: "The credential lacks the scope (or the filters) this route needs",
    404: "Not found (also: another organization's resource, or one outside the key's filters)",
    409: "Conflict: a concurrent change, or a state that forbids it; retry or read again",
    413: "Request body too large",
    415: "The request body must be JSON (Content-Type: application/json)",
    422: "The request is well-formed but cannot be processed (a template that fails on this payload; a refused sensor batch)",
    424: "A definition this request depends on is missing or inconsistent (e.g. the thing's type)",
    429: "Too many requests (gateway throttling or the key's rate limit); retry after Retry-After seconds",
    503: "A dependency is unavailable; retry",
}
_RETRY_AFTER = {"Retry-After": {"description": "Seconds to wait", "schema": {"type": "string", "pattern": "^[0-9]+$"}}}


def _dialect(module: ModuleType, authorizer: bool) -> str:
    """Which error shape the handler answers: the module its ``*entrypoint`` comes from."""
    for value in vars(module).values():
        if not (inspect.isfunction(value) and value.__name__.endswith("entrypoint")):
            continue
        if value.__module__ == "telemetry.http.dakkio":
            return "bucket"
        if value.__module__ == "telemetry.http.ambiquality" and not authorizer:
            return "sensor"
    return "platform"


def _calls(module: ModuleType) -> set[str]:
    """The names of the functions the handler module calls."""
    tree = ast.parse(inspect.getsource(module))
    return {n.func.id for n in ast.walk(tree) if isinstance(n, ast.Call) and isinstance(n.func, ast.Name)}


def _credential(calls: set[str]) -> str | None:
    return next((scheme for name, scheme in _CREDENTIAL_CALLS.items() if name in calls), None)


def _statuses(
    dialect: str,
    path: str,
    method: str,
    authorizer: bool,
    checks_media: bool,
    credential: str | None,
    specific: Mapping[int, str] | None,
) -> dict[int, str | None]:
    """The refusals of one operation: status -> its description (None: the generic one).

    Two parts. The **universal** refusals every function of a dialect can answer, whatever its route
    (its Lambda wrapper refuses an oversized or non-UTF-8 body before the route runs; the gateway
    throttles; a dependency can fail): proven per route by tests/integration/test_every_route_gateway.py.
    The **specific** ones (404, 409, 422, 424...) come from the handler's ``OPENAPI["refusals"]``
    (status -> why this route answers it) when it declares them; a handler that does not gets
    404 when its path names a resource, and, as a POST outside the authorizer, 401 (a credential in
    the body). The status audit (tests/status_audit.py) fails a full run when a documented status is
    never answered or an answered one is not documented, so a declaration cannot drift from the code.
    """
    out: dict[int, str | None] = dict.fromkeys((413, 429, 503))
    out[422 if dialect == "sensor" else 400] = None  # the dialect's malformed body
    if authorizer or credential:
        out |= dict.fromkeys((401, 403))
    if checks_media:
        out[415] = None
    if specific is not None:
        out |= specific
    elif dialect == "bucket":
        out[404] = None  # the bucket and data source ride in the query or the body
    else:
        if "{" in path:
            out[404] = None
        if not authorizer and method == "post" and dialect == "platform":
            out[401] = None  # a credential in the body (the stream token, a webhook signature)
    return dict(sorted(out.items()))


def _refusal(status: int, dialect: str, description: str | None = None) -> dict[str, Any]:
    if dialect == "bucket":
        media, ref = "application/json", "BucketError"
    elif dialect == "sensor":
        media, ref = "application/problem+json", "SensorProblem"
    else:
        media, ref = "application/problem+json", "Problem"
    answer: dict[str, Any] = {
        "description": description or _DESCRIPTIONS[status],
        "content": {media: {"schema": {"$ref": f"#/components/schemas/{ref}"}}},
    }
    if status == 429 and dialect != "sensor":
        answer["headers"] = copy.deepcopy(_RETRY_AFTER)
    return answer


def _add(components: dict[str, Any], name: str, schema: dict[str, Any]) -> str:
    """Put a schema under ``name``, or under ``name_2``... when another one already has it (two
    models of one name in different modules, e.g. each dialect's ``ValueType``). Returns the name."""
    name = re.sub(r"[^A-Za-z0-9._-]", "_", name)
    candidate, n = name, 1
    while candidate in components and components[candidate] != schema:
        n += 1
        candidate = f"{name}_{n}"
    components[candidate] = schema
    return candidate


def _renamed(value: Any, names: dict[str, str]) -> Any:
    """``value`` with every ``#/components/schemas/<old>`` reference pointing at its new name."""
    text = json.dumps(value)
    for old, new in names.items():
        if old != new:
            text = text.replace(json.dumps(f"#/components/schemas/{old}"), json.dumps(f"#/components/schemas/{new}"))
    return json.loads(text)


def _merge_components(components: dict[str, Any], defs: dict[str, Any]) -> dict[str, str]:
    """Add one resolver's (or one type's) definitions; returns old name -> name in the document."""
    names = {old: re.sub(r"[^A-Za-z0-9._-]", "_", old) for old in defs}
    for _ in range(len(defs) + 1):  # a rename can change a referring schema: settle
        placed = {old: _probe(components, names[old], _renamed(d, names)) for old, d in defs.items()}
        if placed == names:
            break
        names = placed
    for old, definition in defs.items():
        _add(components, names[old], _renamed(definition, names))
    return names


def _probe(components: dict[str, Any], name: str, schema: dict[str, Any]) -> str:
    base = re.sub(r"_\d+$", "", name)
    candidate, n = base, 1
    while candidate in components and components[candidate] != schema:
        n += 1
        candidate = f"{base}_{n}"
    return candidate


def _schema_of(
    body_type: Any, components: dict[str, Any], mode: Literal["validation", "serialization"] = "serialization"
) -> dict[str, Any]:
    """The JSON schema of a response type (pydantic models into components), ``{}`` if unknown."""
    if body_type is None:
        return {}
    origin = getattr(body_type, "__origin__", None) or body_type
    if origin is dict:
        return {"type": "object"}
    if origin is list:
        return {"type": "array"}
    if dataclasses.is_dataclass(body_type) and isinstance(body_type, type):
        pass  # pydantic describes a dataclass as it does a model
    elif not (isinstance(body_type, type) and issubclass(body_type, BaseModel)):
        return {}
    schema = TypeAdapter(body_type).json_schema(ref_template="#/components/schemas/{model}", mode=mode)
    defs = schema.pop("$defs", {})
    defs[schema.get("title") or body_type.__name__] = schema
    names = _merge_components(components, defs)
    return {"$ref": f"#/components/schemas/{names[schema.get('title') or body_type.__name__]}"}


def _examples(schema: dict[str, Any], components: dict[str, Any]) -> dict[str, Any]:
    """Named media-type examples from a schema's (or its component's) ``examples``."""
    ref = schema.get("$ref", "")
    target = components.get(ref.rsplit("/", 1)[-1], {}) if ref else schema
    found = target.get("examples") or []
    return {f"example{i + 1}" if i else "example": {"value": value} for i, value in enumerate(found)}


def _media(schema: dict[str, Any], components: dict[str, Any]) -> dict[str, Any]:
    media: dict[str, Any] = {"schema": schema}
    examples = _examples(schema, components)
    if examples:
        media["examples"] = examples
    return media


def _merge_fragment(operation: dict[str, Any], fragment: dict[str, Any], components: dict[str, Any]) -> None:
    """The handler's own ``OPENAPI`` fragment: what it parses itself (body, query)."""
    body = fragment.get("requestBody")
    if isinstance(body, type) and issubclass(body, BaseModel):  # a model the handler validates itself
        schema = _schema_of(body, components, mode="validation")
        operation["requestBody"] = {"required": True, "content": {"application/json": {"schema": schema}}}
    elif body is not None:
        operation["requestBody"] = copy.deepcopy(body)
    if "parameters" in fragment:
        declared = {(p["in"], p["name"]) for p in operation.get("parameters", [])}
        extra = [p for p in fragment["parameters"] if (p["in"], p["name"]) not in declared]
        operation["parameters"] = operation.get("parameters", []) + copy.deepcopy(extra)


def build(template: Template) -> dict[str, Any]:
    components: dict[str, Any] = {"Problem": PROBLEM, "BucketError": BUCKET_ERROR, "SensorProblem": SENSOR_PROBLEM}
    doc: dict[str, Any] = {
        "openapi": "3.1.0",
        "info": {
            "title": "Telemetry ingestion platform",
            "version": "2",
            "description": (
                "The platform API (/v2) and the ingestion dialects. Generated from the handlers by `make openapi`. "
                "An unknown path, or a method a path does not declare, answers 404 problem+json "
                "(API Gateway's MISSING_AUTHENTICATION_TOKEN gateway response; the local stack answers the same)."
            ),
        },
        "components": {"schemas": components, "securitySchemes": copy.deepcopy(SECURITY_SCHEMES)},
        "paths": {},
    }
    for route in sorted(template.api_routes(), key=lambda r: (r.path, r.method)):
        method = route.method.lower()
        authorized = bool(route.authorizer)
        module = load_function(template.function(route.function_id)).module
        schema = json.loads(
            module.app.get_openapi_schema(title="x", version="x").model_dump_json(by_alias=True, exclude_none=True)
        )
        defs = {
            name: component
            for name, component in schema.get("components", {}).get("schemas", {}).items()
            if name not in ("HTTPValidationError", "ValidationError", "ResponseValidationError")
        }
        operation = _renamed(schema["paths"][route.path][method], _merge_components(components, defs))
        validated = dict(operation)
        fragment: dict[str, Any] = getattr(module, "OPENAPI", {})
        _merge_fragment(operation, fragment, components)
        body = operation.get("requestBody", {}).get("content", {}).get("application/json")
        if body is not None:
            body.update(_media(body["schema"], components))
        success = success_of(module, method, route.path)
        responses: dict[str, Any] = {}
        for status in success.statuses:
            if status == 204:
                responses["204"] = {"description": "Done (no body)"}
                continue
            ok = _schema_of(success.body_type, components)
            description = "Partial success: the body says which items failed" if status == 207 else "Success"
            media = _media(ok, components)
            answers = fragment.get("successExamples") or []  # the handler's own, e.g. from its spec document
            if answers:
                media["examples"] = {f"example{i + 1}" if i else "example": {"value": v} for i, v in enumerate(answers)}
            responses[str(status)] = {"description": description, "content": {"application/json": media}}
        dialect = _dialect(module, authorized)
        calls = _calls(module)
        credential = None if authorized else _credential(calls)
        # 415: powertools validates the body's media type, and so does telemetry.http.app.json_body
        checks_media = "requestBody" in validated or "json_body" in calls
        specific = fragment.get("refusals")
        for status, why in _statuses(
            dialect, route.path, method, authorized, checks_media, credential, specific
        ).items():
            responses[str(status)] = _refusal(status, dialect, why)
        operation["responses"] = responses
        if route.authorizer:
            operation["security"] = [{"ApiKey": []}]
        else:
            operation["security"] = [{credential: []}] if credential else []
        doc["paths"].setdefault(route.path, {})[method] = operation
    add_links(doc)
    return doc


def _resolve(schema: dict[str, Any], components: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        schema = components[schema["$ref"].rsplit("/", 1)[-1]]
    return schema


def _created_id(operation: dict[str, Any], components: dict[str, Any]) -> bool:
    """A create: its 201 body carries the new resource's ``id``."""
    media = operation["responses"].get("201", {}).get("content", {}).get("application/json")
    return media is not None and "id" in _resolve(media["schema"], components).get("properties", {})


def _collections(create_path: str) -> set[str]:
    """Where a resource created by ``POST create_path`` is addressed: under its own path, and, for a
    nested create (``POST /v2/sites/{placeId}/things``), at the top level (``/v2/things/{id}``,
    ``/v2/thing/{id}``)."""
    out = {create_path}
    if "{" in create_path:
        last = create_path.rsplit("/", 1)[-1]
        out |= {f"/v2/{last}", f"/v2/{last.removesuffix('s')}"}
    return out


def _id_name(create_path: str) -> str:
    """The conventional name of a created resource's id: ``/v2/buckets/{b}/data-sources`` -> ``dataSourceId``."""
    words = create_path.rsplit("/", 1)[-1].removesuffix("s").split("-")
    return words[0] + "".join(w.title() for w in words[1:]) + "Id"


def add_links(doc: dict[str, Any]) -> None:
    """OpenAPI links from each create to every operation that takes the created id, so that
    schemathesis' stateful phase (``schema.as_state_machine()``) chains POST -> GET/PUT/DELETE/list
    with real ids. By rule, a parameter gets the 201 body's ``id`` when its path continues the
    create's collection (``/v2/things`` + ``/{thingId}...``), or when it has the name of the
    created id (learned from those paths, or ``/data-sources`` -> ``dataSourceId``) and is not under
    another create's collection (``/v2/thing/{thingId}/data/template/{templateId}``, ``/api/data?bucketId=``)."""
    components = doc["components"]["schemas"]
    operations = [(path, method, op) for path, item in doc["paths"].items() for method, op in item.items()]
    creates = [(p, op) for p, m, op in operations if m == "post" and _created_id(op, components)]
    homes = {create_path: _collections(create_path) for create_path, _ in creates}
    every_home = set().union(*homes.values())
    for create_path, create in creates:
        names = {_id_name(create_path)}
        targets: dict[str, dict[str, str]] = {}
        for path, _, op in operations:
            for param in re.findall(r"\{(\w+)\}", path):
                if path.split("/{" + param + "}", 1)[0] in homes[create_path]:
                    targets.setdefault(op["operationId"], {})[f"path.{param}"] = "$response.body#/id"
                    names.add(param)
        for path, _, op in operations:
            for param in re.findall(r"\{(\w+)\}", path):
                if param in names and path.split("/{" + param + "}", 1)[0] not in every_home:
                    targets.setdefault(op["operationId"], {})[f"path.{param}"] = "$response.body#/id"
            for query in op.get("parameters", []):
                if query["in"] == "query" and query["name"] in names:
                    targets.setdefault(op["operationId"], {})[f"query.{query['name']}"] = "$response.body#/id"
        if targets:
            create["responses"]["201"]["links"] = {
                target: {"operationId": target, "parameters": params} for target, params in sorted(targets.items())
            }


def write(template_path: Path, out: Path) -> None:
    out.write_text(json.dumps(build(Template.load(template_path)), indent=2, sort_keys=True) + "\n", encoding="utf-8")
