"""The generic ``http`` connector's example feed: ``GET /feed?cursor=&limit=`` with header auth.

Answers ``{"data": {"items": [...]}, "next": "<cursor>"}``: ``next`` is the position after the last
item, present even at the end (a "since" token), so a later pull continues where this one
stopped; ``end_null=True`` answers ``next: null`` at the end instead. Webhooks are signed the way
the platform documents for ``http`` (``X-Webhook-Timestamp`` and ``X-Webhook-Signature`` = hex
HMAC-SHA256(secret, timestamp + "." + body)).
"""

from __future__ import annotations

import hashlib
import hmac
import time
from typing import Any

from devstack.fakes.base import Call, FakeProvider, Reply, iso


class HttpFeedFake(FakeProvider):
    name = "http"

    def __init__(
        self, host: str = "127.0.0.1", *, header: str = "X-Feed-Token", token: str = "feed-test-token"
    ) -> None:
        super().__init__(host)
        self.header, self.token = header.lower(), token
        self.items: list[dict[str, Any]] = []
        self.end_null = False

    def expire_session(self) -> None:
        with self._lock:
            self.token = "expired-" + self.token

    def seed(self, start_ms: int, count: int = 30, sensors: tuple[str, ...] = ("s-1", "s-2")) -> None:
        """``count`` readings per sensor, one a minute: temperature and humidity."""
        with self._lock:
            for i in range(count):
                for n, sensor in enumerate(sensors):
                    self.items.append(
                        {
                            "id": len(self.items) + 1,
                            "sensor": sensor,
                            "ts": iso(start_ms + i * 60_000),
                            "temperature": round(20.0 + (i % 10) * 0.3 + n, 2),
                            "humidity": 40 + i % 7,
                        }
                    )

    @staticmethod
    def sign_webhook(secret: str, body: bytes, timestamp: int | None = None) -> dict[str, str]:
        ts = str(int(time.time()) if timestamp is None else timestamp)
        digest = hmac.new(secret.encode(), ts.encode() + b"." + body, hashlib.sha256).hexdigest()
        return {"X-Webhook-Timestamp": ts, "X-Webhook-Signature": digest, "Content-Type": "application/json"}

    def route(self, call: Call) -> Reply:
        if call.path != "/feed" or call.method != "GET":
            return Reply(404, b"")
        if call.headers.get(self.header) != self.token:
            return Reply(401, {"error": "unauthorized"})
        try:
            position = int(call.params.get("cursor") or 0)
            limit = int(call.params.get("limit") or 25)
        except ValueError:
            return Reply(400, {"error": "cursor and limit must be integers"})
        page = [item for item in self.items if item["id"] > position][:limit]
        last = page[-1]["id"] if page else position
        at_end = not [item for item in self.items if item["id"] > last]
        following = None if (at_end and self.end_null) else str(last)
        return Reply(200, {"data": {"items": page}, "next": following})
