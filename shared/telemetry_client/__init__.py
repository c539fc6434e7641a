"""A typed Python client for the telemetry platform's public HTTP API (``/v2`` and the three
ingestion dialects), sync (:class:`Client`) and async (:class:`AsyncClient`), on httpx.

    from telemetry_client import Client
    with Client("http://127.0.0.1:3000", "avy_...") as api:
        api.send_frames(thing_id, [{"timestamp": 1718884800000, "metrics": {"soc": 87.4}}])
        for frame in api.history(thing_id, start=0):
            ...
"""

from __future__ import annotations

from ._core import NO_RETRY, RetryPolicy
from .aio import AsyncClient
from .client import Client
from .errors import (
    ApiError,
    BadRequest,
    ClientError,
    Conflict,
    FailedDependency,
    Forbidden,
    NotFound,
    PayloadTooLarge,
    RateLimited,
    ServerError,
    ServiceUnavailable,
    TooLargeToSplit,
    Unauthorized,
    Unprocessable,
)

__all__ = [
    "NO_RETRY",
    "ApiError",
    "AsyncClient",
    "BadRequest",
    "Client",
    "ClientError",
    "Conflict",
    "FailedDependency",
    "Forbidden",
    "NotFound",
    "PayloadTooLarge",
    "RateLimited",
    "RetryPolicy",
    "ServerError",
    "ServiceUnavailable",
    "TooLargeToSplit",
    "Unauthorized",
    "Unprocessable",
]
