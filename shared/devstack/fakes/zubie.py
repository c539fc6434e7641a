"""A fake Zubie ZinC v2 API under ``/api/v2/zinc`` (INTEGRATIONS.md §3 and §6).

``GET /events?event=trip_end&after=&before=&cursor=&size=`` (after inclusive, before exclusive),
``GET /trip/{key}``, ``GET /trip/{key}/points?cursor=&size=``, ``GET /trips``, ``GET /vehicles``.
Lists page by ``size``; the answer carries ``cursor`` (the key of the next object) while more
remain and omits it at the end. Auth: ``Zubie-Api-Key`` or ``Authorization: Bearer``; 401 with an
empty body otherwise. OAuth2 token endpoint ``POST /oauth/token`` (login.zubiecar.com in production;
developer.zubie.com/faq: tokens expire after 24 hours, and a 401 with a refresh token is answered by
POSTing URL-encoded ``grant_type=refresh_token``, ``client_id``, ``client_secret``, ``refresh_token``):
an RFC 6749 §5.1 token answer, refresh tokens rotated (the old one stops working), §5.2 errors; 400 with a JSON body for a bad parameter; throttling 429 + ``Retry-After``
(assumed: Zubie documents none). Webhooks are signed ``Zubie-Signature`` = base64 HMAC-SHA256.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
from typing import Any

from devstack.fakes.base import Call, FakeProvider, Reply, iso, page_after, parse_iso_ms

PREFIX = "/api/v2/zinc"
TOKEN_PATH = "/oauth/token"
_TRIP = re.compile(rf"^{PREFIX}/trip/([^/]+)(/points)?$")


class ZubieFake(FakeProvider):
    name = "zubie"

    def __init__(
        self,
        host: str = "127.0.0.1",
        *,
        api_key: str = "zubie-test-key",
        access_token: str = "zubie-test-token",
        client_id: str = "zubie-test-client",
        client_secret: str = "zubie-test-client-secret",
        refresh_token: str = "zubie-test-refresh",
    ) -> None:
        super().__init__(host)
        self.api_keys = {api_key}
        self.tokens = {access_token}
        self.clients = {client_id: client_secret}
        self.refresh_tokens = {refresh_token}
        self.token_lifetime_s = 86_400
        self.vehicles = [
            {"key": f"veh{i}", "nickname": f"Van {i}", "vin": f"1FTBW2CM{i:09d}", "fuel_economy_um": "mpg"}
            for i in (1, 2)
        ]
        self.trips: list[dict[str, Any]] = []
        self.points: dict[str, list[dict[str, Any]]] = {}
        self.events: list[dict[str, Any]] = []
        self._n = 0

    def expire_session(self) -> None:
        """OAuth access tokens expire; API keys do not."""
        with self._lock:
            self.tokens.clear()

    def seed(
        self, start_ms: int, trips_per_vehicle: int = 3, points_per_trip: int = 12, vehicles: list[str] | None = None
    ) -> None:
        """Trips of ``points_per_trip`` points (one every 10 s), one trip per vehicle every 30 minutes."""
        with self._lock:
            for t in range(trips_per_vehicle):
                for n, vehicle in enumerate(vehicles or [v["key"] for v in self.vehicles]):
                    self.add_trip(vehicle, start_ms + t * 1_800_000 + n * 60_000, points_per_trip)

    def add_trip(self, vehicle: str, start_ms: int, points: int) -> dict[str, Any]:
        with self._lock:
            self._n += 1
            key = f"trip{self._n:05d}"
            pts = [
                {
                    "key": f"{key}p{i:04d}",
                    "timestamp": iso(start_ms + i * 10_000, "+00:00"),
                    "point": {"lat": 30.26 + i * 1e-4, "lon": -97.74 - i * 1e-4},
                    "speed": float(20 + (i * 7) % 50),
                    "heading": (i * 15) % 360,
                }
                for i in range(points)
            ]
            end_ms = start_ms + max(0, points - 1) * 10_000
            trip = {
                "key": key,
                "vehicle": {"key": vehicle},
                "start_point": {
                    "point": pts[0]["point"] if pts else None,
                    "timestamp": iso(start_ms, "+00:00"),
                    "odometer": 15000.0 + self._n,
                    "fuel_level": 80,
                },
                "end_point": {
                    "point": pts[-1]["point"] if pts else None,
                    "timestamp": iso(end_ms, "+00:00"),
                    "odometer": 15010.0 + self._n,
                    "fuel_level": 78,
                },
                "duration_seconds": (end_ms - start_ms) // 1000,
            }
            self.trips.append(trip)
            self.points[key] = pts
            self.events.append(
                {
                    "key": f"evt{self._n:05d}",
                    "event": "trip_end",
                    "timestamp": iso(end_ms, "+00:00"),
                    "vehicle": {"key": vehicle},
                    "trip": {"key": key},
                }
            )
            self.events.sort(key=lambda e: (parse_iso_ms(e["timestamp"]), e["key"]))
            return trip

    @staticmethod
    def sign_webhook(secret: str, body: bytes) -> dict[str, str]:
        """The headers Zubie sends with a webhook: ``Zubie-Signature`` = base64(HMAC-SHA256(secret, body))."""
        digest = hmac.new(secret.encode(), body, hashlib.sha256).digest()
        return {"Zubie-Signature": base64.b64encode(digest).decode(), "Content-Type": "application/json"}

    def route(self, call: Call) -> Reply:
        if call.path == TOKEN_PATH and call.method == "POST":
            return self._token(call)
        if not call.path.startswith(PREFIX):
            return Reply(404, b"")
        key = call.headers.get("zubie-api-key")
        bearer = call.headers.get("authorization", "").removeprefix("Bearer ").strip()
        if key not in self.api_keys and bearer not in self.tokens:
            return Reply(401, b"")
        try:
            size = int(call.params.get("size") or 100)
        except ValueError:
            return Reply(400, {"message": "size must be an integer", "status": 400})
        if not 1 <= size <= 500:
            return Reply(400, {"message": "size must be between 1 and 500", "status": 400})
        cursor = call.params.get("cursor") or None
        path = call.path.removeprefix(PREFIX)
        if path == "/vehicles":
            chunk, following = page_after(self.vehicles, "key", cursor, size)
            return Reply(200, _listing("vehicles", chunk, following))
        if path == "/events":
            return self._events(call, size, cursor)
        if path == "/trips":
            trips = self._between(
                self.trips, lambda t: t["start_point"]["timestamp"], call, "started_after", "started_before"
            )
            if isinstance(trips, Reply):
                return trips
            chunk, following = page_after(trips, "key", cursor, size)
            return Reply(200, _listing("trips", chunk, following))
        match = _TRIP.match(call.path)
        if match:
            trip = next((t for t in self.trips if t["key"] == match.group(1)), None)
            if trip is None:
                return Reply(404, b"")
            if match.group(2) is None:
                return Reply(200, trip)
            chunk, following = page_after(self.points[trip["key"]], "key", cursor, size)
            return Reply(200, _listing("points", chunk, following))
        return Reply(404, b"")

    def _token(self, call: Call) -> Reply:
        form = call.body if isinstance(call.body, dict) else {}
        if self.clients.get(str(form.get("client_id"))) != form.get("client_secret"):
            return Reply(401, {"error": "invalid_client"})
        if form.get("grant_type") != "refresh_token":
            return Reply(400, {"error": "unsupported_grant_type"})
        if form.get("refresh_token") not in self.refresh_tokens:
            return Reply(400, {"error": "invalid_grant"})
        self._n += 1
        access, refresh = f"zubie-token-{self._n}", f"zubie-refresh-{self._n}"
        self.refresh_tokens.discard(str(form["refresh_token"]))
        self.refresh_tokens.add(refresh)
        self.tokens.add(access)
        return Reply(
            200,
            {
                "access_token": access,
                "token_type": "Bearer",
                "expires_in": self.token_lifetime_s,
                "refresh_token": refresh,
            },
            {"Cache-Control": "no-store"},
        )

    def _events(self, call: Call, size: int, cursor: str | None) -> Reply:
        kind = call.params.get("event")
        events = self._between(self.events, lambda e: e["timestamp"], call, "after", "before")
        if isinstance(events, Reply):
            return events
        chosen = [e for e in events if kind in (None, "", e["event"])]
        chunk, following = page_after(chosen, "key", cursor, size)
        return Reply(200, _listing("events", chunk, following))

    @staticmethod
    def _between(
        items: list[dict[str, Any]], when: Any, call: Call, lower: str, upper: str
    ) -> list[dict[str, Any]] | Reply:
        try:
            low = parse_iso_ms(call.params[lower]) if call.params.get(lower) else None
            high = parse_iso_ms(call.params[upper]) if call.params.get(upper) else None
        except ValueError:
            return Reply(400, {"message": f"{lower}/{upper} must be ISO 8601 timestamps", "status": 400})
        return [
            i
            for i in items
            if (low is None or parse_iso_ms(when(i)) >= low) and (high is None or parse_iso_ms(when(i)) < high)
        ]


def _listing(name: str, chunk: list[dict[str, Any]], following: str | None) -> dict[str, Any]:
    body: dict[str, Any] = {name: chunk}
    if following is not None:
        body["cursor"] = following
    return body
