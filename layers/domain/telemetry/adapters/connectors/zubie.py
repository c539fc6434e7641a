"""Zubie ZinC v2 (INTEGRATIONS.md §3): trip-end events by time window, then each trip's points.

Auth: ``credentials.apiKey`` as ``Zubie-Api-Key``, or ``credentials.accessToken`` as a Bearer token.
One step = one page of ``GET /events?event=trip_end&after=&before=&size=[&cursor=]`` and, for each
event of a mapped vehicle (all vehicles when no resources are mapped), every page of
``GET /trip/{key}/points``. Each point becomes a ``TripPoint`` record carrying ``vehicle_key`` and
``trip_key`` (the points themselves do not name the vehicle), so a template selects the thing by
``/vehicle_key``.

Windows: ``after`` inclusive, ``before`` exclusive (Zubie's semantics). A window is at most
``connection.windowHours`` (24) long and ends ``connection.settleSeconds`` (300) before now, so a
trip that Zubie records a little late still falls in a later window. The window's ``before`` is
fixed while its pages are read (``cursor`` set); after its last page (no ``cursor`` in the answer)
``after := before`` and ``more`` says whether a later window is already complete. Cursor:
``{"after", "before", "cursor"}``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import quote

from telemetry.adapters.connectors._http import SettingInvalid, int_setting, iso_ms, iso_utc, refuse_status
from telemetry.adapters.egress import EgressClient
from telemetry.ports.integrations import ProviderRecord, ProviderUnavailable, PullPage, PullRequest

BASE_URL = "https://api.zubiecar.com/api/v2/zinc"
#: trip points pages per trip before the step gives up (a trip of 100,000 points is not a trip)
MAX_POINT_PAGES = 200


class ZubieConnector:
    provider = "zubie"

    def __init__(self, client: EgressClient) -> None:
        self._client = client

    def pull(self, request: PullRequest) -> PullPage:
        base = str(request.connection.get("baseUrl") or BASE_URL).rstrip("/")
        headers = _auth_headers(request.credentials)
        size = int_setting(request.connection, "size", 100, 1, 500)
        window_ms = int_setting(request.connection, "windowHours", 24, 1, 24 * 31) * 3_600_000
        settle_ms = int_setting(request.connection, "settleSeconds", 300, 0, 86_400) * 1000
        cursor = request.cursor or {}
        after = str(cursor.get("after") or iso_utc(request.start_ms))
        page_cursor = cursor.get("cursor") or None
        horizon = request.now_ms - settle_ms
        if page_cursor and cursor.get("before"):
            before = str(cursor["before"])
        else:
            before = iso_utc(max(iso_ms(after), min(horizon, iso_ms(after) + window_ms)))
        calls = 0

        def get(path: str, params: dict[str, Any]) -> Mapping[str, Any]:
            nonlocal calls
            calls += 1
            answer = self._client.request("GET", base + path, headers=headers, params=params)
            refuse_status(answer, "Zubie")
            body = answer.json()
            if not isinstance(body, Mapping):
                raise ProviderUnavailable(f"Zubie's {path} answer is not an object")
            return body

        params: dict[str, Any] = {"event": "trip_end", "after": after, "before": before, "size": size}
        if page_cursor:
            params["cursor"] = page_cursor
        page = get("/events", params)
        events = page.get("events")
        if not isinstance(events, list):
            raise ProviderUnavailable("Zubie's /events answer has no events list")
        wanted = set(request.external_ids)
        records: list[ProviderRecord] = []
        for event in events:
            vehicle = _key(event, "vehicle")
            trip = _key(event, "trip")
            if trip is None or vehicle is None or (wanted and vehicle not in wanted):
                continue
            points_cursor: str | None = None
            for _ in range(MAX_POINT_PAGES):
                point_params: dict[str, Any] = {"size": size}
                if points_cursor:
                    point_params["cursor"] = points_cursor
                points = get(f"/trip/{quote(trip, safe='')}/points", point_params)
                for point in points.get("points") or []:
                    if isinstance(point, Mapping):
                        records.append(ProviderRecord("TripPoint", {**point, "vehicle_key": vehicle, "trip_key": trip}))
                points_cursor = points.get("cursor") or None
                if points_cursor is None:
                    break
            else:
                raise ProviderUnavailable(f"Zubie trip {trip} has more than {MAX_POINT_PAGES} pages of points")
        following = page.get("cursor") or None
        if following is not None:
            next_cursor: dict[str, Any] = {"after": after, "before": before, "cursor": following}
            more = True
        else:
            next_cursor = {"after": before, "before": None, "cursor": None}
            more = iso_ms(before) < horizon
        return PullPage(records=records, cursor=next_cursor, more=more, calls=calls)


def _auth_headers(credentials: Mapping[str, Any]) -> dict[str, str]:
    key, token = credentials.get("apiKey"), credentials.get("accessToken")
    if isinstance(key, str) and key:
        return {"Zubie-Api-Key": key}
    if isinstance(token, str) and token:
        return {"Authorization": f"Bearer {token}"}
    raise SettingInvalid("credentials need apiKey (Zubie-Api-Key) or accessToken (OAuth bearer)")


def _key(event: Any, name: str) -> str | None:
    if not isinstance(event, Mapping):
        return None
    value = event.get(name)
    key = value.get("key") if isinstance(value, Mapping) else None
    return key if isinstance(key, str) and key else None
