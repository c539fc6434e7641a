"""Zubie ZinC v2 (INTEGRATIONS.md §3): trip-end events by time window, then each trip's points.

Auth: ``credentials.apiKey`` as ``Zubie-Api-Key``, or ``credentials.accessToken`` as a Bearer token.
OAuth2 tokens expire after 24 hours; with ``refreshToken``, ``clientId`` and ``clientSecret`` in the
credentials, an expired token is refreshed (developer.zubie.com/faq: on a 401, POST URL-encoded
``grant_type=refresh_token``, ``client_id``, ``client_secret``, ``refresh_token`` to the token URL,
``connection.tokenUrl``, default ``https://login.zubiecar.com/oauth/token``). A refresh is a step of
its own: it returns no records, the same cursor, ``more`` and the new credentials, which the pull
service writes back before the next step runs, so a rotated refresh token is never lost to a failure
later in the same step. It runs before the first call when ``expiresAt`` (epoch ms, written with each
refresh) is less than 5 minutes away, or when Zubie answers 401; a 401 within a minute of a refresh
(``refreshedAtMs``), or a refused refresh (RFC 6749 §5.2 ``invalid_grant``), is auth failed.
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

from telemetry.adapters.connectors._http import (
    SettingInvalid,
    int_setting,
    iso_ms,
    iso_utc,
    refuse_status,
    text_setting,
)
from telemetry.adapters.egress import EgressClient
from telemetry.ports.integrations import (
    ProviderAuthFailed,
    ProviderRecord,
    ProviderUnavailable,
    PullPage,
    PullRequest,
)

BASE_URL = "https://api.zubiecar.com/api/v2/zinc"
TOKEN_URL = "https://login.zubiecar.com/oauth/token"
#: refresh a token this long before ``expiresAt``
REFRESH_AHEAD_MS = 5 * 60_000
#: a 401 this soon after a refresh is not an expired token: the grant itself is refused
REFRESH_GUARD_MS = 60_000
#: trip points pages per trip before the step gives up (a trip of 100,000 points is not a trip)
MAX_POINT_PAGES = 200


class ZubieConnector:
    provider = "zubie"

    def __init__(self, client: EgressClient) -> None:
        self._client = client

    def pull(self, request: PullRequest) -> PullPage:
        try:
            return self._pull(request)
        except _TokenExpired:
            return self._refreshed(request)

    def _refreshed(self, request: PullRequest) -> PullPage:
        """One step: the OAuth2 refresh alone (see the module docstring)."""
        credentials = request.credentials
        form = {
            "grant_type": "refresh_token",
            "client_id": text_setting(credentials, "clientId", "credentials"),
            "client_secret": text_setting(credentials, "clientSecret", "credentials"),
            "refresh_token": text_setting(credentials, "refreshToken", "credentials"),
        }
        url = str(request.connection.get("tokenUrl") or TOKEN_URL)
        answer = self._client.request("POST", url, form=form, headers={"Accept": "application/json"})
        if answer.status in (400, 401):
            raise ProviderAuthFailed(
                f"Zubie refused the refresh token ({answer.status}): the account must authorize the app again"
            )
        refuse_status(answer, "Zubie's token endpoint")
        body = answer.json()
        token = body.get("access_token") if isinstance(body, Mapping) else None
        if not isinstance(token, str) or not token:
            raise ProviderUnavailable("Zubie's token answer has no access_token")
        lifetime = body.get("expires_in")
        renewed: dict[str, Any] = {**credentials, "accessToken": token, "refreshedAtMs": request.now_ms}
        rotated = body.get("refresh_token")
        if isinstance(rotated, str) and rotated:
            renewed["refreshToken"] = rotated
        if isinstance(lifetime, int | float) and not isinstance(lifetime, bool) and lifetime > 0:
            renewed["expiresAt"] = request.now_ms + int(lifetime * 1000)
        else:
            renewed.pop("expiresAt", None)
        return PullPage(records=[], cursor=dict(request.cursor or {}), more=True, calls=1, credentials=renewed)

    def _pull(self, request: PullRequest) -> PullPage:
        base = str(request.connection.get("baseUrl") or BASE_URL).rstrip("/")
        headers = _auth_headers(request.credentials)
        refreshable = _refreshable(request.credentials, request.now_ms)
        expires = request.credentials.get("expiresAt")
        if refreshable and isinstance(expires, int) and expires - REFRESH_AHEAD_MS <= request.now_ms:
            raise _TokenExpired
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
            if answer.status == 401 and refreshable:
                raise _TokenExpired
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


class _TokenExpired(Exception):
    """The bearer token expired (or is about to) and can be refreshed."""


def _refreshable(credentials: Mapping[str, Any], now_ms: int) -> bool:
    """A bearer token with a refresh token, not refreshed within the last minute."""
    if credentials.get("apiKey") or not credentials.get("accessToken") or not credentials.get("refreshToken"):
        return False
    refreshed = credentials.get("refreshedAtMs")
    return not (isinstance(refreshed, int) and 0 <= now_ms - refreshed < REFRESH_GUARD_MS)


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
