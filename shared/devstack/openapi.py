"""Build one OpenAPI document for the whole API from the handlers themselves.

Each function's powertools resolver knows its route, parameters and request model; this merges
them in template order and corrects what powertools cannot know: our refusals are RFC 9457
problem+json with status 400 (not powertools' 422 ``HTTPValidationError``), and the routes
behind the API-key authorizer also answer 401, 403 and 404. Routes of dialects with their own
error shapes keep only what their handlers declare. ``shared/openapi.json`` is the committed
result; a test fails when it drifts from the code (`make openapi` refreshes it).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from .lambdas import load_function
from .template import Template

PROBLEM = {
    "type": "object",
    "description": "RFC 9457 problem details",
    "required": ["type", "title", "status"],
    "properties": {
        "type": {"type": "string", "example": "urn:telemetry:problem:validation-error"},
        "title": {"type": "string"},
        "status": {"type": "integer"},
        "detail": {"type": "string"},
        "instance": {"type": "string"},
        "errors": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {"path": {"type": "string"}, "message": {"type": "string"}},
            },
        },
    },
}
_PLATFORM_REFUSALS = {
    "400": "Invalid request (malformed JSON or a field error; `errors` names each field)",
    "401": "Missing or invalid API key",
    "403": "The key lacks the scope this route needs",
    "404": "Not found (also: another organization's resource, or one outside the key's filters)",
    "413": "Request body too large",
}


def _problem(description: str) -> dict[str, Any]:
    return {
        "description": description,
        "content": {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}},
    }


def build(template: Template) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "openapi": "3.1.0",
        "info": {
            "title": "Telemetry ingestion platform",
            "version": "2",
            "description": "The platform API (/v2) and the ingestion dialects. Generated from the handlers by `make openapi`.",
        },
        "components": {
            "schemas": {"Problem": PROBLEM},
            "securitySchemes": {"ApiKey": {"type": "apiKey", "in": "header", "name": "X-Api-Key"}},
        },
        "paths": {},
    }
    for route in sorted(template.api_routes(), key=lambda r: (r.path, r.method)):
        module = load_function(template.function(route.function_id)).module
        schema = json.loads(
            module.app.get_openapi_schema(title="x", version="x").model_dump_json(by_alias=True, exclude_none=True)
        )
        operation = schema["paths"][route.path][route.method.lower()]
        responses = operation.setdefault("responses", {})
        responses.pop("422", None)  # powertools' default; our validation errors are 400 problems
        if "204" in responses:  # no body (powertools gives every declared response the return type)
            responses["204"].pop("content", None)
        ok = responses.get("200", {}).get("content", {}).get("application/json", {}).get("schema", {})
        if ok.get("title") == "Return" and ok.get("type") == "string":
            # handlers return a prepared Response; the status (200/201/202/207) is in docs/
            del responses["200"]
            responses["2XX"] = {"description": "Success", "content": {"application/json": {"schema": {}}}}
        if route.authorizer:
            operation["security"] = [{"ApiKey": []}]
            for status, description in _PLATFORM_REFUSALS.items():
                responses.setdefault(status, _problem(description))
        doc["paths"].setdefault(route.path, {})[route.method.lower()] = operation
        for name, component in schema.get("components", {}).get("schemas", {}).items():
            if name not in ("HTTPValidationError", "ValidationError", "ResponseValidationError"):
                doc["components"]["schemas"].setdefault(name, component)
    return doc


def write(template_path: Path, out: Path) -> None:
    out.write_text(json.dumps(build(Template.load(template_path)), indent=2, sort_keys=True) + "\n", encoding="utf-8")
