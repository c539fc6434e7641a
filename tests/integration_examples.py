"""The example Integrations templates of docs/examples/integrations/, their provider samples (the
providers' wire shapes) turned into ProviderRecords as the connectors emit them, and the readings
each example must produce (keyed by external id, with the placeholder metric ids of metrics.json).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from telemetry.ports.integrations import ProviderRecord

EXAMPLES = Path(__file__).resolve().parents[1] / "docs" / "examples" / "integrations"

#: the vehicle key of the sample trip (the Zubie connector copies it into each TripPoint)
ZUBIE_VEHICLE = "Vh3kQz9"


def load(name: str) -> Any:
    return json.loads((EXAMPLES / name).read_text())


def placeholder_metrics() -> dict[str, dict[str, Any]]:
    """Placeholder metric id -> the metric create body it stands for."""
    return dict(load("metrics.json"))


def template_body(example: str, ids: Mapping[str, str] | None = None) -> dict[str, Any]:
    """The example's POST /v2/templates body, placeholder metric ids replaced by ``ids`` (if given)."""
    text = (EXAMPLES / f"{example}.template.json").read_text()
    for placeholder, real in (ids or {}).items():
        text = text.replace(f'"{placeholder}"', f'"{real}"')
    return dict(json.loads(text))


def _geotab(file: str, type_name: str) -> Callable[[], list[ProviderRecord]]:
    def records() -> list[ProviderRecord]:
        return [ProviderRecord(type_name, rec) for rec in load(file)["result"]["data"]]

    return records


def _zubie() -> list[ProviderRecord]:
    return [
        ProviderRecord("TripPoint", {**p, "vehicle_key": ZUBIE_VEHICLE})
        for p in load(SAMPLES["zubie-trip-points"])["points"]
    ]


def _utilityapi() -> list[ProviderRecord]:
    return [
        ProviderRecord("IntervalReading", {**reading, "meter_uid": interval["meter_uid"]})
        for interval in load(SAMPLES["utilityapi-intervals"])["intervals"]
        for reading in interval["readings"]
    ]


SAMPLES = {
    "geotab-statusdata": "geotab-statusdata.getfeed.json",
    "geotab-logrecord": "geotab-logrecord.getfeed.json",
    "zubie-trip-points": "zubie-trip-points.response.json",
    "utilityapi-intervals": "utilityapi-intervals.response.json",
}

RECORDS: dict[str, Callable[[], list[ProviderRecord]]] = {
    "geotab-statusdata": _geotab(SAMPLES["geotab-statusdata"], "StatusData"),
    "geotab-logrecord": _geotab(SAMPLES["geotab-logrecord"], "LogRecord"),
    "zubie-trip-points": _zubie,
    "utilityapi-intervals": _utilityapi,
}

T = 1718884800000  # 2024-06-20T12:00:00Z

#: external id -> [(epoch ms, {placeholder metric id: value})]
EXPECTED_READINGS: dict[str, dict[str, list[tuple[int, dict[str, Any]]]]] = {
    "geotab-statusdata": {
        "b1": [
            (T, {"mdef_state_of_charge": 81.5, "mdef_odometer_km": 104523.417}),  # two records, one row
            (T + 300_000, {"mdef_state_of_charge": 80.0}),
        ],
        "b2": [(T + 90_000, {"mdef_state_of_charge": 66.0})],  # 131.2 % is outside the metric's range
    },
    "geotab-logrecord": {
        "b1": [
            (T, {"mdef_speed_kmh": 62.0, "mdef_latitude": 43.5159874, "mdef_longitude": -79.6842651}),
            (T + 30_000, {"mdef_speed_kmh": 0.0, "mdef_latitude": 43.5181236, "mdef_longitude": -79.6880035}),
        ],
        "b9": [(T + 30_000, {"mdef_speed_kmh": 48.0, "mdef_latitude": 45.4215, "mdef_longitude": -75.6972})],
    },
    "zubie-trip-points": {
        ZUBIE_VEHICLE: [  # 08:00:05-04:00 is 12:00:05Z
            (
                T + 5_000,
                {
                    "mdef_latitude": 33.7489954,
                    "mdef_longitude": -84.3879824,
                    "mdef_speed_mph": 31.0,
                    "mdef_heading_deg": 87,
                },
            ),
            (
                T + 35_000,
                {
                    "mdef_latitude": 33.7491201,
                    "mdef_longitude": -84.3841127,
                    "mdef_speed_mph": 38.5,
                    "mdef_heading_deg": 90,
                },
            ),
            (T + 65_000, {"mdef_latitude": 33.7493013, "mdef_longitude": -84.3802348}),  # speed null, heading 412
        ],
    },
    "utilityapi-intervals": {
        "1482902": [  # 00:00-07:00 is 07:00Z
            (T - 5 * 3_600_000, {"mdef_energy_kwh": 0.42}),
            (T - 5 * 3_600_000 + 900_000, {"mdef_energy_kwh": 0.38}),
        ],
    },
}

#: the dry-run report's skips and field counts per example
EXPECTED_REPORT: dict[str, dict[str, Any]] = {
    "geotab-statusdata": {
        "recordsSkipped": [{"index": 2, "reason": "no_matching_rule"}, {"index": 5, "reason": "no_metric_values"}],
        "fieldsInvalid": [{"metricId": "mdef_state_of_charge", "reason": "out_of_range", "count": 1}],
        "fieldsSkippedMissing": [],
    },
    "geotab-logrecord": {"recordsSkipped": [], "fieldsInvalid": [], "fieldsSkippedMissing": []},
    "zubie-trip-points": {
        "recordsSkipped": [],
        "fieldsInvalid": [{"metricId": "mdef_heading_deg", "reason": "out_of_range", "count": 1}],
        "fieldsSkippedMissing": [{"metricId": "mdef_speed_mph", "count": 1}],
    },
    "utilityapi-intervals": {
        "recordsSkipped": [{"index": 2, "reason": "no_metric_values"}],
        "fieldsInvalid": [],
        "fieldsSkippedMissing": [{"metricId": "mdef_energy_kwh", "count": 1}],
    },
}
