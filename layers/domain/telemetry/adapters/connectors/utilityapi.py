"""UtilityAPI v2 (INTEGRATIONS.md §4): interval readings per meter, ``next`` paging.

Auth ``Authorization: Bearer {credentials.apiToken}``. The meters are the integration's resources
(meter uids). One step = one page of one meter, round-robin like Geotab's feeds: the first page of
a meter is ``GET /api/v2/intervals?meters={uid}&start=&end=&limit=``, the following ones the
``next`` URL the answer gave (absolute; it goes through the same egress checks). While ``next`` is
set the meter keeps its turn (``more``); when it is null the next meter's turn comes, and ``more``
stays true until every meter had its turn in this round.

Each interval *reading* is one ``IntervalReading`` record: the reading object
(``start``, ``end``, ``kwh``, ``datapoints``) plus ``meter_uid`` (and ``interval_uid``), so a
template selects the thing by ``/meter_uid``. ``start`` of a meter moves to the latest reading
``end`` seen, page by page, so the next window starts where this one stopped. Cursor:
``{"meters": {uid: {"start", "next"}}, "turn": uid}``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

from telemetry.adapters.connectors._http import (
    SettingInvalid,
    int_setting,
    iso_ms,
    iso_utc,
    refuse_status,
    text_setting,
)
from telemetry.adapters.egress import EgressClient
from telemetry.ports.integrations import EgressRefused, ProviderRecord, ProviderUnavailable, PullPage, PullRequest

BASE_URL = "https://utilityapi.com"


class UtilityApiConnector:
    provider = "utilityapi"

    def __init__(self, client: EgressClient) -> None:
        self._client = client

    def pull(self, request: PullRequest) -> PullPage:
        base = str(request.connection.get("baseUrl") or BASE_URL).rstrip("/")
        headers = {"Authorization": f"Bearer {text_setting(request.credentials, 'apiToken', 'credentials')}"}
        limit = int_setting(request.connection, "limit", 100, 1, 1000)
        meters = [m for m in request.external_ids if m]
        if not meters:
            raise SettingInvalid("a UtilityAPI integration needs resources: the meter uids to pull")
        cursor = request.cursor or {}
        states: dict[str, dict[str, Any]] = {
            uid: dict(state) for uid, state in dict(cursor.get("meters") or {}).items() if isinstance(state, Mapping)
        }
        turn: str = cursor["turn"] if cursor.get("turn") in meters else meters[0]
        state = states.setdefault(turn, {"start": iso_utc(request.start_ms), "next": None})
        if state.get("next"):
            _same_origin(str(state["next"]), base)
            answer = self._client.request("GET", str(state["next"]), headers=headers)
        else:
            params: dict[str, str | int] = {
                "meters": turn,
                "start": str(state["start"]),
                "end": iso_utc(request.now_ms),
                "limit": limit,
            }
            answer = self._client.request("GET", f"{base}/api/v2/intervals", headers=headers, params=params)
        refuse_status(answer, "UtilityAPI")
        body = answer.json()
        intervals = body.get("intervals") if isinstance(body, Mapping) else None
        following = body.get("next") if isinstance(body, Mapping) else None
        if not isinstance(intervals, list) or not isinstance(following, str | None):
            raise ProviderUnavailable("UtilityAPI's /intervals answer has no intervals list")
        records: list[ProviderRecord] = []
        latest = str(state["start"])
        for interval in intervals:
            if not isinstance(interval, Mapping):
                continue
            meter = interval.get("meter_uid") or turn
            for reading in interval.get("readings") or []:
                if not isinstance(reading, Mapping):
                    continue
                records.append(
                    ProviderRecord(
                        "IntervalReading", {**reading, "meter_uid": meter, "interval_uid": interval.get("uid")}
                    )
                )
                end = reading.get("end")
                if isinstance(end, str) and _later(end, latest):
                    latest = end
        states[turn] = {"start": latest, "next": following or None}
        index = meters.index(turn)
        next_turn = turn if following else meters[(index + 1) % len(meters)]
        return PullPage(
            records=records,
            cursor={"meters": states, "turn": next_turn},
            more=bool(following) or index + 1 < len(meters),
        )


def _same_origin(url: str, base: str) -> None:
    """``next`` carries our bearer token: it must stay on the configured API's origin."""
    a, b = urlsplit(url), urlsplit(base)
    if (a.scheme, a.netloc) != (b.scheme, b.netloc):
        raise EgressRefused(f"UtilityAPI's next URL leaves {b.scheme}://{b.netloc}: refused (it would carry the token)")


def _later(a: str, b: str) -> bool:
    try:
        return iso_ms(a) > iso_ms(b)
    except ValueError:
        return False
