"""API Gateway's method throttling: a token bucket per method of each resource of a stage.

The template's stage sets ``MethodSettings`` (``ResourcePath: /*``, ``HttpMethod: *``) with a burst
and a steady rate; API Gateway refuses a request over them with the ``THROTTLED`` gateway response
(429) before the authorizer runs. The local gateway applies the same numbers, so a client sees the
same refusal here as on AWS (the account-level limit, 10,000 requests per second, is not emulated).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable


class MethodThrottle:
    """Token buckets keyed by (method, resource path), each holding up to ``burst`` tokens and
    refilled at ``rate`` per second; thread-safe (the gateway serves each connection in a thread)."""

    def __init__(self, burst: int, rate: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.burst = burst
        self.rate = rate
        self._clock = clock
        self._buckets: dict[tuple[str, str], tuple[float, float]] = {}  # key -> (tokens, at)
        self._lock = threading.Lock()

    def take(self, method: str, resource: str) -> bool:
        """One request of this method on this resource: True if a token was left, else False."""
        now = self._clock()
        key = (method.upper(), resource)
        with self._lock:
            tokens, at = self._buckets.get(key, (float(self.burst), now))
            tokens = min(float(self.burst), tokens + (now - at) * self.rate)
            if tokens < 1.0:
                self._buckets[key] = (tokens, now)
                return False
            self._buckets[key] = (tokens - 1.0, now)
            return True
