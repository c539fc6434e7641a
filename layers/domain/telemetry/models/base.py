"""Shared pydantic configuration and paging."""

from __future__ import annotations

from typing import Any, ClassVar, Generic, TypeVar

from pydantic import BaseModel, ConfigDict

T = TypeVar("T")


class ApiModel(BaseModel):
    """Input models refuse unknown fields so a typo is an error, not silently ignored."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=False, populate_by_name=True)


class OutModel(BaseModel):
    model_config = ConfigDict(extra="ignore", populate_by_name=True)


class Answer(OutModel):
    """A response model a handler validates a service's answer into: it refuses a field it does
    not declare, so a service that adds one without documenting it fails the handler's tests (and
    schemathesis' response check) instead of drifting from shared/openapi.json."""

    model_config = ConfigDict(extra="forbid")
    #: answered with its None fields as JSON null (``json_response`` otherwise leaves them out)
    keeps_nulls: ClassVar[bool] = False


class Page(OutModel, Generic[T]):
    """A page of a list. ``continuationToken`` is absent on the last page."""

    items: list[T]
    continuationToken: str | None = None


def with_examples(*examples: Any) -> ConfigDict:
    """A model's ``model_config`` addition carrying request examples into its JSON schema (and so
    into shared/openapi.json, where clients see them); pydantic merges it with the base config."""
    return ConfigDict(json_schema_extra={"examples": list(examples)})


def json_int(value: Any) -> Any:
    """An integer as JSON Schema has it: ``600`` and ``600.0``; not ``true``, ``"600"`` or ``600.5``.

    Use as ``Annotated[int, Field(<bounds>), BeforeValidator(json_int)]`` (the bounds first, or
    pydantic documents them as unknown keywords instead of ``minimum``/``maximum``)."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError("must be an integer")
    return value
