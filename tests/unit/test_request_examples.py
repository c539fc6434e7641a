"""Every request example a model documents (``with_examples``: they reach shared/openapi.json,
where clients copy them and the every-route tests send them) is a body its own model accepts."""

from __future__ import annotations

import importlib
import pkgutil
from typing import Any

import pytest
import telemetry.models
from pydantic import BaseModel


def _models_with_examples() -> list[tuple[type[BaseModel], Any]]:
    found: dict[str, tuple[type[BaseModel], Any]] = {}
    for info in pkgutil.walk_packages(telemetry.models.__path__, "telemetry.models."):
        module = importlib.import_module(info.name)
        for value in vars(module).values():
            if isinstance(value, type) and issubclass(value, BaseModel) and value.__module__ == info.name:
                extra = value.model_config.get("json_schema_extra")
                for i, example in enumerate(extra.get("examples", []) if isinstance(extra, dict) else []):
                    found[f"{value.__qualname__}[{i}]"] = (value, example)
    return [found[name] for name in sorted(found)]


EXAMPLES = _models_with_examples()


def test_the_request_models_document_examples() -> None:
    names = {model.__name__ for model, _ in EXAMPLES}
    assert {"ThingTypeCreate", "ThingTypeVersionCreate", "ThingBulkCreate", "IntegrationIn", "TemplateUpdate"} <= names


@pytest.mark.parametrize(("model", "example"), EXAMPLES, ids=[f"{m.__name__}-{i}" for i, (m, _) in enumerate(EXAMPLES)])
def test_a_documented_example_is_accepted_by_its_model(model: type[BaseModel], example: Any) -> None:
    model.model_validate(example)
