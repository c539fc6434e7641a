"""A Lambda cold start without the cyclic garbage collector (docs/performance.md, "Cold start").

A cold start allocates hundreds of thousands of long-lived objects (module dicts, classes,
botocore's parsed service models) and creates no garbage worth collecting; each allocation
threshold crossed meanwhile runs a collection that walks them all again, generation 2 included.
So every ``functions/*/app.py`` imports this module first (ruff's ``force-to-top``) and wraps its
handler in :func:`cold_start`: on Lambda only (``LAMBDA_TASK_ROOT``), importing it turns the
collector off, and when the first invocation returns (or raises) ``gc.freeze()`` moves everything
allocated so far into the permanent generation, which later collections never scan, and the
collector is turned back on for the warm invocations. Reference counting frees as usual
throughout; only cycles created during the cold start wait until the freeze (they are kept).
"""

from __future__ import annotations

import gc
from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar

from telemetry.settings import on_lambda

Handler = TypeVar("Handler", bound=Callable[..., Any])

#: whether the import turned the collector off (and the first invocation must turn it back on)
_paused = on_lambda() and gc.isenabled()
if _paused:
    gc.disable()


def finish() -> None:
    """End the cold start: freeze what it allocated, turn the collector back on. Idempotent."""
    global _paused
    if _paused:
        _paused = False
        gc.freeze()
        gc.enable()


def cold_start(handler: Handler) -> Handler:
    """``handler``, ending the cold start (:func:`finish`) after its first invocation."""

    @wraps(handler)
    def first_then_warm(event: Any, context: Any) -> Any:
        if not _paused:
            return handler(event, context)
        try:
            return handler(event, context)
        finally:
            finish()

    return first_then_warm  # type: ignore[return-value]
