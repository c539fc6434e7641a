"""The documented success bodies of the bucket and stream dialects' data routes, taken from the
documents themselves, against the answer models and shared/openapi.json.

* ``POST /api/data`` (201): the body shown by the dialect's own document
  (tests/contract/spec/dakkio-ingest-data.md, "Success Response"; not fenced there).
* ``POST /api/data/batch`` (201) and ``GET /api/data`` (200): the document names them without
  showing them; docs/dakkio.md writes them down (its ```json blocks).
* ``GET /v2/data-streams/metrics/{metricName}`` (200): the stream document has no read-back
  route; docs/cloudthread.md writes it down.

Each example must validate against its pydantic answer model and round-trip through it unchanged
(no field renamed, dropped or added: ``_id`` stays ``_id``), must validate against the operation's
documented schema, and must be the example the OpenAPI document shows for that answer. A field the
document does not declare, or a missing one, is refused by both.
"""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from pydantic import BaseModel, ValidationError
from telemetry.http.app import json_response
from telemetry.models.cloudthread import StreamMetricAnswer
from telemetry.models.dakkio import DataBatchAnswer, DataPointAnswer, DataQueryAnswer

from tests.conftest import REPO
from tests.contract.spec_examples import SPEC_DIR
from tests.support import assert_documented_answer, openapi_document

DOCUMENT = openapi_document()


def _spec_success_body() -> Any:
    """The dialect document's 201 body: the JSON between "201 Created" and "Error Responses"."""
    text = (SPEC_DIR / "dakkio-ingest-data.md").read_text(encoding="utf-8")
    start = text.index("201 Created") + len("201 Created")
    return json.loads(text[start : text.index("Error Responses", start)])


def _doc_block(doc: str, marker: str) -> Any:
    """The one ```json block of docs/<doc> that contains ``marker``."""
    text = (REPO / "docs" / doc).read_text(encoding="utf-8")
    blocks = [b for b in re.findall(r"```json\n(.*?)```", text, flags=re.S) if marker in b]
    assert len(blocks) == 1, (doc, marker, len(blocks))
    return json.loads(blocks[0])


#: (method, path, status, model, the documented body)
EXAMPLES: dict[str, tuple[str, str, int, type[BaseModel], Any]] = {
    "ingest one (spec)": ("POST", "/api/data", 201, DataPointAnswer, _spec_success_body()),
    "ingest batch (docs/dakkio.md)": (
        "POST",
        "/api/data/batch",
        201,
        DataBatchAnswer,
        _doc_block("dakkio.md", '"Data points ingested successfully"'),
    ),
    "query (docs/dakkio.md)": ("GET", "/api/data", 200, DataQueryAnswer, _doc_block("dakkio.md", '"hasMore"')),
    "stream metric (docs/cloudthread.md)": (
        "GET",
        "/v2/data-streams/metrics/{metricName}",
        200,
        StreamMetricAnswer,
        _doc_block("cloudthread.md", '"seriesMatched"'),
    ),
}


def _documented_examples(method: str, path: str, status: int) -> list[Any]:
    media = DOCUMENT["paths"][path][method.lower()]["responses"][str(status)]["content"]["application/json"]
    return [e["value"] for e in media.get("examples", {}).values()]


def test_the_spec_body_is_read_as_the_document_shows_it() -> None:
    """The extraction itself: the document's 201 body, with its ids and values."""
    body = _spec_success_body()
    assert body["message"] == "Data point ingested successfully"
    assert body["dataPoint"]["_id"] == "507f1f77bcf86cd799439016"
    assert body["dataPoint"]["metadata"] == {"deviceId": "ESP32-001", "location": "Living Room", "batteryLevel": 85}


@pytest.mark.parametrize("name", sorted(EXAMPLES))
def test_the_documented_body_is_the_answer_model(name: str) -> None:
    _, _, status, model, body = EXAMPLES[name]
    answer = model.model_validate(body)
    assert json.loads(json_response(status, answer).body) == body  # as the handler writes it


@pytest.mark.parametrize("name", sorted(EXAMPLES))
def test_the_documented_body_matches_the_openapi_schema_and_is_its_example(name: str) -> None:
    method, path, status, _, body = EXAMPLES[name]
    assert_documented_answer(DOCUMENT, method, path, status, "application/json", body)
    assert _documented_examples(method, path, status) == [body]


def _nested_objects(value: Any, path: tuple[str | int, ...] = ()) -> list[tuple[str | int, ...]]:
    """Paths of the example's objects that are models (not the free-form ``values``/``metadata``/
    ``filter``/``dimensions`` maps, whose keys are data)."""
    free = {"values", "metadata", "filter", "dimensions"}
    found: list[tuple[str | int, ...]] = []
    if isinstance(value, dict):
        found.append(path)
        for k, v in value.items():
            if k not in free:
                found += _nested_objects(v, (*path, k))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            found += _nested_objects(v, (*path, i))
    return found


def _at(body: Any, path: tuple[str | int, ...]) -> Any:
    for step in path:
        body = body[step]
    return body


@pytest.mark.parametrize("name", sorted(EXAMPLES))
def test_an_undeclared_or_missing_field_is_refused_at_every_level(name: str) -> None:
    method, path, status, model, body = EXAMPLES[name]
    for where in _nested_objects(body):
        extra = json.loads(json.dumps(body))
        _at(extra, where)["undocumented"] = 1
        with pytest.raises(ValidationError, match="undocumented"):
            model.model_validate(extra)
        with pytest.raises(AssertionError, match="does not match"):
            assert_documented_answer(DOCUMENT, method, path, status, "application/json", extra)
        for field in _at(body, where):  # every field is always answered: none may be left out
            missing = json.loads(json.dumps(body))
            del _at(missing, where)[field]
            with pytest.raises(ValidationError, match=re.escape(field)):
                model.model_validate(missing)
            with pytest.raises(AssertionError, match="does not match"):
                assert_documented_answer(DOCUMENT, method, path, status, "application/json", missing)
