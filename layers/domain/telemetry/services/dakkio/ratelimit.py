"""Per-API-key token bucket for the dialect's routes, shared by every Lambda through DynamoDB.

State: one item per key (``RATE#dakkio#<keyId>``) holding ``tokens`` and the time they were
counted. A request refills the bucket for the elapsed time, takes one token and writes the state
back with an optimistic ``Expect.VERSION`` condition, so two concurrent requests cannot both take
the last token: the loser re-reads and tries again, after a short jittered pause. A lost write is
not a sign of exhaustion (every round of a race has one winner, so N concurrent requests collide
up to N-1 times each): the loser keeps trying until the state it reads is really empty (429) or
``MAX_ATTEMPTS`` rounds have passed, which only a store that keeps failing conditions can cause
and which is answered 503 (retry), never a 429 under the limit.
A warm container also remembers "empty until t" per key and refuses without a store call until
then, so abuse costs no DynamoDB traffic.
"""

from __future__ import annotations

import math
import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from telemetry.errors import Conflict, RateLimited, Unavailable
from telemetry.models.auth import Principal
from telemetry.ports.definitions import Expect, Item, ItemStore
from telemetry.repositories.definitions import org_pk

MAX_ATTEMPTS = 200
#: upper bound of the jittered pause after a lost write, seconds
MAX_BACKOFF = 0.02


@dataclass(frozen=True, slots=True)
class RateLimit:
    #: requests a key may send at once
    burst: int = 100
    #: sustained requests per second
    per_second: float = 10.0


class TokenBucketLimiter:
    def __init__(self, store: ItemStore, limit: RateLimit, clock: Callable[[], float] = time.time) -> None:
        self.store = store
        self.limit = limit
        self.clock = clock
        self._empty_until: dict[str, float] = {}
        self._lock = threading.Lock()

    def take(self, principal: Principal) -> None:
        """Take one token for the principal's key or raise RateLimited (with Retry-After seconds)."""
        now = self.clock()
        key = principal.key_id
        blocked = self._empty_until.get(key)
        if blocked is not None and now < blocked:
            raise RateLimited("rate limit exceeded", retry_after_seconds=math.ceil(blocked - now))
        pk, sk = org_pk(principal.org_id), f"RATE#dakkio#{key}"
        for attempt in range(MAX_ATTEMPTS):
            found = self.store.get(pk, sk)
            tokens = float(self.limit.burst)
            if found is not None:
                elapsed = max(0.0, now - float(found.doc.get("at", now)))
                tokens = min(tokens, float(found.doc.get("tokens", tokens)) + elapsed * self.limit.per_second)
            if tokens < 1.0:
                wait = (1.0 - tokens) / self.limit.per_second
                with self._lock:
                    self._empty_until[key] = now + wait
                raise RateLimited("rate limit exceeded", retry_after_seconds=max(1, math.ceil(wait)))
            item = Item(
                pk,
                sk,
                {"tokens": tokens - 1.0, "at": now},
                expires_at=int(now) + 3600,
                expect=Expect.VERSION,
                expected_ver=found.ver if found else 0,
            )
            try:
                self.store.write([item])
                return
            except Conflict:  # another request took a token first: re-read, not a refusal
                time.sleep(random.uniform(0, min(MAX_BACKOFF, 0.001 * (attempt + 1))))
                now = self.clock()
        raise Unavailable("the rate-limit state is contended; retry")
