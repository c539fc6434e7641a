"""Shared bench helpers: best-of timing and a REST API Gateway event for in-process handler calls."""

from __future__ import annotations

import gc
import time
from collections.abc import Callable
from typing import Any


def best_of(fn: Callable[[], Any], repeat: int = 7, number: int = 1) -> float:
    """Best wall time of ``repeat`` runs of ``number`` calls, in seconds per call."""
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        for _ in range(number):
            fn()
        best = min(best, (time.perf_counter() - start) / number)
    return best


def rest_event(
    method: str, resource: str, path: str, body: str | None, path_params: dict[str, str], authorizer: dict[str, str]
) -> dict[str, Any]:
    return {
        "resource": resource,
        "path": path,
        "httpMethod": method,
        "headers": {"Content-Type": "application/json"},
        "multiValueHeaders": {"Content-Type": ["application/json"]},
        "queryStringParameters": None,
        "multiValueQueryStringParameters": None,
        "pathParameters": path_params,
        "stageVariables": None,
        "requestContext": {
            "resourcePath": resource,
            "httpMethod": method,
            "path": "/dev" + path,
            "stage": "dev",
            "requestId": "bench",
            "identity": {"sourceIp": "127.0.0.1"},
            "authorizer": authorizer,
        },
        "body": body,
        "isBase64Encoded": False,
    }


def verdict(ratio: float, target: float) -> str:
    return "MEETS" if ratio >= target else "MISSES"


def median_pair(floor: Callable[[], Any], subject: Callable[[], Any], repeat: int = 7) -> tuple[float, float]:
    """Median wall times (seconds) of ``floor`` and ``subject``, run interleaved so that machine
    noise hits both alike; each run starts after a full collection, so neither pays for the
    other's garbage."""
    floor_times: list[float] = []
    subject_times: list[float] = []
    for _ in range(repeat):
        for fn, times in ((floor, floor_times), (subject, subject_times)):
            gc.collect()
            start = time.perf_counter()
            fn()
            times.append(time.perf_counter() - start)
    return sorted(floor_times)[repeat // 2], sorted(subject_times)[repeat // 2]
