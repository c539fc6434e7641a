"""boto3 clients created safely from several threads.

boto3's default session is not thread-safe (creating it, and creating clients from it, races on
its loaders and credential resolver; boto3's docs: "Session objects are not thread safe"); the
clients themselves are. One Lambda execution environment never creates clients concurrently,
but the local stack runs a function's first requests in threads at once, and each adapter's lazy
``client`` was then built several times over. Every adapter builds its clients here, once, under
:data:`CLIENT_LOCK`.
"""

from __future__ import annotations

import threading
from typing import Any

#: re-entrant: an adapter holds it while checking its attribute and calls :func:`aws_client`
CLIENT_LOCK = threading.RLock()


def aws_client(service: str, **kwargs: Any) -> Any:
    """``boto3.client(service, **kwargs)`` on the default session, serialized."""
    import boto3

    with CLIENT_LOCK:
        return boto3.client(service, **kwargs)  # type: ignore[call-overload]


def error_code(exc: BaseException) -> str:
    """A botocore ``ClientError``'s error code (``""`` if it names none), else the exception's
    type name: what an adapter's ``Unavailable`` message may say without quoting the request."""
    response = getattr(exc, "response", None)
    if isinstance(response, dict):
        return str(response.get("Error", {}).get("Code", ""))
    return type(exc).__name__
