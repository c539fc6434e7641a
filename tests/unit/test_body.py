"""The one body loader (telemetry.body) that every ingest path uses."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
from telemetry.body import body_size, load_json, load_object
from telemetry.errors import MalformedRequest, PayloadTooLarge, ValidationFailed

SERVICES = Path(__file__).resolve().parents[2] / "layers/domain/telemetry/services"


def test_size_is_measured_in_utf8_bytes() -> None:
    assert body_size("é" * 3) == 6
    assert body_size(b"abc") == body_size("abc") == 3
    with pytest.raises(PayloadTooLarge):
        load_json("é" * 3, 5)


@pytest.mark.parametrize("body", [b"", b"{", b'{"a": NaN}', b"[" * 200_000 + b"]" * 200_000, b"\xff"])
def test_what_is_not_json_is_a_malformed_request(body: bytes) -> None:
    with pytest.raises(MalformedRequest):
        load_json(body, 10_000_000)


@pytest.mark.parametrize("body", [b"[]", b"1", b'"x"', b"null"])
def test_an_object_is_required(body: bytes) -> None:
    with pytest.raises(ValidationFailed):
        load_object(body, 100)
    assert load_object(b'{"a": 1}', 100) == {"a": 1}


def test_no_service_parses_a_request_body_itself() -> None:
    """Request bodies are parsed by telemetry.body alone; the only other orjson.loads in the
    services parses a sandboxed script's output (fmt_javascript) or re-normalizes a parsed object."""
    allowed = {"templates/fmt_javascript.py", "templates/engine.py"}
    offenders = []
    for path in SERVICES.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Attribute) and node.attr == "loads" and getattr(node.value, "id", "") == "orjson":
                rel = str(path.relative_to(SERVICES))
                if rel not in allowed:
                    offenders.append(f"{rel}:{node.lineno}")
    assert not offenders
