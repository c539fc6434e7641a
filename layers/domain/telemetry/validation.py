"""Turn pydantic validation errors into domain field errors."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, TypeVar

from pydantic import BaseModel
from pydantic import ValidationError as PydanticValidationError

from telemetry.errors import FieldError, ValidationFailed

M = TypeVar("M", bound=BaseModel)


def field_errors(exc: PydanticValidationError, prefix: Sequence[str | int] = ()) -> list[FieldError]:
    return [error_from_pydantic(e, prefix) for e in exc.errors(include_url=False)]


def error_from_pydantic(err: dict[str, Any] | Any, prefix: Sequence[str | int] = ()) -> FieldError:
    loc = tuple(err.get("loc", ()))
    message = str(err.get("msg", "is invalid"))
    if message.startswith("Value error, "):
        message = message[len("Value error, ") :]
    if err.get("type") == "extra_forbidden":
        message = "is not a known field"
    elif err.get("type") == "missing":
        message = "is required"
    return FieldError(tuple(prefix) + loc, message)


def parse(model: type[M], data: Any, prefix: Sequence[str | int] = ()) -> M:
    """Validate ``data`` into ``model`` or raise ValidationFailed with every field error."""
    try:
        return model.model_validate(data)
    except PydanticValidationError as exc:
        raise ValidationFailed(field_errors(exc, prefix)) from None
