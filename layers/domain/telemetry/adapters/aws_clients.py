"""AWS clients, created from one botocore session, safely from several threads.

Clients come from a ``botocore.session.Session`` the adapters share, not from ``boto3.client``:
boto3 adds nothing to a low-level client (its session only registers resource and S3 transfer
customizations, and this code uses neither), yet ``import boto3`` costs a cold start its
``boto3.session`` / ``boto3.compat`` / ``s3transfer`` imports (docs/performance.md). One shared
session also means one loader: the endpoint data and retry rules are parsed once per execution
environment, however many clients an adapter set creates, and its data loader is
:mod:`telemetry.adapters.botocore_data`'s (no scan of every service folder, orjson parsing).

botocore sessions are not thread-safe (creating clients races on the loaders and the credential
resolver; boto3's docs: "Session objects are not thread safe"); the clients themselves are. One
Lambda execution environment never creates clients concurrently, but the local stack runs a
function's first requests in threads at once, and each adapter's lazy ``client`` was then built
several times over. Every adapter builds its clients here, once, under :data:`CLIENT_LOCK`.

The session is created on the first call and kept, as boto3's default session is; region,
endpoint (``AWS_ENDPOINT_URL``) and the other settings are read from the environment at each
client's creation. ``reset_session()`` drops it (tests that change credentials mid-process).
"""

from __future__ import annotations

import threading
from typing import Any

#: re-entrant: an adapter holds it while checking its attribute and calls :func:`aws_client`
CLIENT_LOCK = threading.RLock()
_session: Any = None


def aws_client(service: str, **kwargs: Any) -> Any:
    """``session.create_client(service, **kwargs)`` on the shared botocore session, serialized."""
    global _session
    with CLIENT_LOCK:
        if _session is None:
            import botocore.session

            from telemetry.adapters.botocore_data import install

            _session = botocore.session.get_session()
            install(_session)
        return _session.create_client(service, **kwargs)


def error_code(exc: BaseException) -> str:
    """A botocore ``ClientError``'s error code (``""`` if it names none), else the exception's
    type name: what an adapter's ``Unavailable`` message may say without quoting the request."""
    response = getattr(exc, "response", None)
    if isinstance(response, dict):
        return str(response.get("Error", {}).get("Code", ""))
    return type(exc).__name__
