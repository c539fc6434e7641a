"""A fake UtilityAPI v2 under ``/api/v2`` (INTEGRATIONS.md §4 and §6).

``GET /meters``, ``POST /meters/historical-collection``, ``GET /intervals?meters=&start=&end=&limit=``
(400 without ``meters``/``authorizations``; ``limit`` counts Interval objects; ``next`` is an
absolute URL, ``null`` at the end). Auth ``Authorization: Bearer``, 401 otherwise; throttling 429 +
``Retry-After`` with an empty body. Readings carry the utility's offset (-08:00 here). Webhooks:
``X-UtilityAPI-Webhook-Salt`` and ``X-UtilityAPI-Webhook-Signature`` = hex SHA-256(secret + salt + body).
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timedelta, timezone
from typing import Any
from urllib.parse import urlencode

from devstack.fakes.base import Call, FakeProvider, Reply, parse_iso_ms

PREFIX = "/api/v2"
PACIFIC = timezone(timedelta(hours=-8))
READINGS_PER_INTERVAL = 8  #: readings grouped into one Interval object (a block of 2 h of 15-min readings)


class UtilityApiFake(FakeProvider):
    name = "utilityapi"

    def __init__(self, host: str = "127.0.0.1", *, token: str = "uapi-test-token") -> None:
        super().__init__(host)
        self.tokens = {token}
        self.meters: list[dict[str, Any]] = [
            {
                "uid": f"{m}",
                "authorization_uid": "7001",
                "base": {"service_class": "electric", "meter_numbers": [f"1ZZ{m}"]},
            }
            for m in (101, 102)
        ]
        #: meter uid -> readings, ascending
        self.readings: dict[str, list[dict[str, Any]]] = {}
        self.collecting: set[str] = set()

    def expire_session(self) -> None:
        with self._lock:
            self.tokens.clear()

    def seed(self, start_ms: int, hours: int = 6, meters: list[str] | None = None) -> None:
        """15-minute kWh readings for ``hours`` from ``start_ms`` (net datapoints in kwh)."""
        with self._lock:
            for n, meter in enumerate(meters or [str(m["uid"]) for m in self.meters]):
                rows = self.readings.setdefault(meter, [])
                for i in range(hours * 4):
                    begin = datetime.fromtimestamp(start_ms / 1000 + i * 900, PACIFIC)
                    kwh = round(0.25 + ((i * 13 + n * 7) % 20) / 40, 3)
                    rows.append(
                        {
                            "start": begin.isoformat(timespec="microseconds"),
                            "end": (begin + timedelta(minutes=15)).isoformat(timespec="microseconds"),
                            "kwh": kwh,
                            "datapoints": [{"type": "net", "unit": "kwh", "value": kwh}],
                        }
                    )
                rows.sort(key=lambda r: parse_iso_ms(r["start"]))

    @staticmethod
    def sign_webhook(secret: str, body: bytes, salt: str | None = None) -> dict[str, str]:
        salt = salt or secrets.token_hex(16)
        digest = hashlib.sha256(secret.encode() + salt.encode() + body).hexdigest()
        return {
            "X-UtilityAPI-Webhook-Salt": salt,
            "X-UtilityAPI-Webhook-Signature": digest,
            "Content-Type": "application/json",
        }

    def route(self, call: Call) -> Reply:
        if not call.path.startswith(PREFIX):
            return Reply(404, b"")
        token = call.headers.get("authorization", "").removeprefix("Bearer ").strip()
        if token not in self.tokens:
            return Reply(401, {"error": "invalid_token", "error_description": "Invalid or missing API token"})
        path = call.path.removeprefix(PREFIX)
        if path == "/meters" and call.method == "GET":
            return Reply(200, {"meters": self.meters, "next": None})
        if path == "/meters/historical-collection" and call.method == "POST":
            uids = list((call.body or {}).get("meters") or [])
            known = {m["uid"] for m in self.meters}
            if not uids or not set(uids) <= known:
                return Reply(400, {"errors": [{"field": "meters", "message": "unknown or missing meter uids"}]})
            self.collecting.update(uids)
            return Reply(200, {"success": True, "meters": uids})
        if path == "/intervals" and call.method == "GET":
            return self._intervals(call)
        return Reply(404, b"")

    def _intervals(self, call: Call) -> Reply:
        meters = [m for m in (call.params.get("meters") or "").split(",") if m]
        if not meters and not call.params.get("authorizations"):
            return Reply(400, {"errors": [{"field": "meters", "message": "meters or authorizations is required"}]})
        try:
            start = parse_iso_ms(call.params["start"]) if call.params.get("start") else None
            end = parse_iso_ms(call.params["end"]) if call.params.get("end") else None
            limit = int(call.params.get("limit") or 1000)
            offset = int(call.params.get("offset") or 0)
        except ValueError:
            return Reply(
                400, {"errors": [{"field": "start", "message": "start/end must be dates, limit/offset integers"}]}
            )
        blocks: list[dict[str, Any]] = []
        for meter in meters:
            rows = [
                r
                for r in self.readings.get(meter, [])
                if (start is None or parse_iso_ms(r["start"]) >= start)
                and (end is None or parse_iso_ms(r["end"]) <= end)
            ]
            for i in range(0, len(rows), READINGS_PER_INTERVAL):
                part = rows[i : i + READINGS_PER_INTERVAL]
                blocks.append(
                    {
                        "uid": f"iv-{meter}-{part[0]['start']}",
                        "meter_uid": meter,
                        "authorization_uid": "7001",
                        "readings": part,
                    }
                )
        page = blocks[offset : offset + limit]
        following = None
        if offset + limit < len(blocks):
            query = {**call.params, "offset": str(offset + limit)}
            following = f"{self.url}{PREFIX}/intervals?{urlencode(query)}"
        return Reply(200, {"intervals": page, "next": following, "is_incomplete": False})
