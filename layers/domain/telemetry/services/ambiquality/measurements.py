"""``POST /ingestion/v1/measurements``: authenticate the sensor key, validate the whole batch,
take the sensor's reporting slot, stamp ONE server time and durably enqueue ONE accepted batch.

Order of the checks (and so which answer wins when several apply):

1. key missing / unknown / rotated away                              401
2. body not JSON or not ``{"sensorId", "readings"}``                  422 invalid-body
3. ``sensorId`` is not the key's sensor                               401 invalid-key
4. sensor not ``active``                                              403 sensor-not-active
5. readings: empty, duplicate, undeclared, not a number, unit, range  422 (first problem's type)
6. reporting interval not elapsed                                     429 + Retry-After
7. queue refuses                                                      503 (slot given back)

A refused batch (401/403/422/503) never uses up the interval: validation runs before the slot
is taken, and the slot is given back when the queue refuses. So "fix the reading and resend"
and "retry with backoff" (the document's advice) work at once instead of answering 429.
"""

from __future__ import annotations

import hmac
import logging
import math
import threading
import unicodedata
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from telemetry.body import check_size, load_object
from telemetry.clock import now_ms
from telemetry.errors import Conflict, Unavailable
from telemetry.limits import AMQ_MAX_BODY_BYTES
from telemetry.models.ambiquality import PARAMETERS, SENSOR_KEY_PREFIX, SensorRecord, SensorStatus
from telemetry.models.metrics import DataType
from telemetry.models.readings import AcceptedBatch, SeriesKind, SeriesRows
from telemetry.ports.readings import ReadingQueue
from telemetry.repositories.ambiquality import AmbiqualityRepository
from telemetry.services.ambiquality.errors import (
    BatchRejected,
    InvalidBody,
    InvalidKey,
    MissingKey,
    ReadingProblem,
    SensorNotActive,
    SensorRateLimited,
)
from telemetry.services.auth import hash_secret
from telemetry.services.ingest import accept_version, new_batch_id

log = logging.getLogger(__name__)

#: Far more than the largest valid batch (one reading per catalog parameter).
MAX_BODY_BYTES = AMQ_MAX_BODY_BYTES
MAX_KEY_LENGTH = 256
_BATCH_FIELDS = ("sensorId", "readings")
_READING_FIELDS = ("parameterCode", "value", "unit")
#: Namespace of the measurement ids: uuid5(ns, "<sensorId>/<receivedAt ms>/<parameterCode>"), so an
#: id names exactly one stored value (sensor + time + parameter) and can be recomputed from it.
MEASUREMENT_ID_NAMESPACE = uuid.UUID("6f1d2c3e-4b5a-5e6f-8a9b-0c1d2e3f4a5b")
_KEY_CACHE_SIZE = 10_000


def iso_ms(ms: int) -> str:
    """Always with milliseconds (``2024-05-01T12:00:00.000Z``): one fixed shape for devices."""
    dt = datetime.fromtimestamp(ms / 1000, tz=UTC)
    return dt.strftime("%Y-%m-%dT%H:%M:%S.") + f"{ms % 1000:03d}Z"


def measurement_id(sensor_id: str, received_at_ms: int, code: str) -> str:
    return str(uuid.uuid5(MEASUREMENT_ID_NAMESPACE, f"{sensor_id}/{received_at_ms}/{code}"))


@dataclass(frozen=True, slots=True)
class AcceptedMeasurements:
    sensor_id: str
    received_at_ms: int
    #: (measurement id, parameter code), in the order of the request's readings
    measurements: list[tuple[str, str]]
    batch_id: str

    def as_dict(self) -> dict[str, Any]:
        return {
            "sensorId": self.sensor_id,
            "receivedAt": iso_ms(self.received_at_ms),
            "measurements": [{"id": mid, "parameterCode": code} for mid, code in self.measurements],
        }


class MeasurementIngest:
    def __init__(
        self, repo: AmbiqualityRepository, queue: Callable[[], ReadingQueue], clock: Callable[[], int] = now_ms
    ) -> None:
        self.repo = repo
        self._queue = queue
        self.clock = clock
        #: key hash -> (org, sensor). Safe to cache: the mapping never changes, and every request
        #: still reads the sensor and compares its current hash (rotation, status, parameters).
        self._keys: dict[str, tuple[str, str]] = {}
        self._lock = threading.Lock()

    # ------------------------------------------------------------ authentication
    def authenticate(self, key: str | None) -> SensorRecord:
        if not key:
            raise MissingKey("send the sensor's secret key in the X-Sensor-Key header")
        if not key.startswith(SENSOR_KEY_PREFIX) or len(key) > MAX_KEY_LENGTH:
            raise InvalidKey("the X-Sensor-Key is not a valid sensor key")
        key_hash = hash_secret(key)
        owner = self._keys.get(key_hash) or self.repo.sensor_by_key_hash(key_hash)
        if owner is None:
            raise InvalidKey("the X-Sensor-Key is not a valid sensor key")
        found = self.repo.get_sensor(*owner)
        if found is None or not hmac.compare_digest(found[0].keyHash, key_hash):
            raise InvalidKey("the X-Sensor-Key is not a valid sensor key (was it rotated?)")
        with self._lock:
            if len(self._keys) >= _KEY_CACHE_SIZE:
                self._keys.clear()
            self._keys[key_hash] = owner
        return found[0]

    # ------------------------------------------------------------ the use case
    def ingest(self, key: str | None, body: bytes) -> AcceptedMeasurements:
        sensor = self.authenticate(key)
        check_size(body, MAX_BODY_BYTES)
        claimed, readings = _envelope(body)
        if not _same_sensor(claimed, sensor.id):
            raise InvalidKey(f"the X-Sensor-Key is not the key of sensor {claimed[:64]}")
        if sensor.status is not SensorStatus.active:
            raise SensorNotActive(
                f"sensor {sensor.id} is {sensor.status.value}; re-activate it in the operator app",
                sensorStatus=sensor.status.value,
            )
        values, codes = _validate(sensor, readings)
        received = self.clock()
        self._take_slot(sensor, received)
        batch = AcceptedBatch(
            new_batch_id(),
            sensor.orgId,
            groups=[
                SeriesRows(
                    SeriesKind.THING,
                    sensor.thingId,
                    accept_version(),
                    {mid: DataType.Double for mid in values},
                    [(received, values)],
                    {"source": "ambiquality", "sensorId": sensor.id},
                )
            ],
        )
        try:
            self._queue().enqueue(batch)
        except Unavailable:
            self._give_back_slot(sensor)
            raise
        return AcceptedMeasurements(
            sensor_id=sensor.id,
            received_at_ms=received,
            measurements=[(measurement_id(sensor.id, received, c), c) for c in codes],
            batch_id=batch.batch_id,
        )

    # ------------------------------------------------------------ rate limit
    def _take_slot(self, sensor: SensorRecord, now: int) -> None:
        until = now + sensor.measurement_frequency_seconds * 1000
        try:
            self.repo.take_slot(sensor.orgId, sensor.id, now, until)
        except Conflict:
            held_until = self.repo.slot_until(sensor.orgId, sensor.id) or now
            wait = max(1, math.ceil((held_until - now) / 1000))
            raise SensorRateLimited(
                f"sensor {sensor.id} reports every {sensor.measurement_frequency_seconds} s; "
                f"the next batch is accepted in {wait} s",
                retry_after_seconds=wait,
            ) from None

    def _give_back_slot(self, sensor: SensorRecord) -> None:
        try:
            self.repo.release_slot(sensor.orgId, sensor.id)
        except Unavailable:  # the answer stays 503; the device may see one 429 on its retry
            log.warning("could not give back the reporting slot of sensor %s", sensor.id)


def _same_sensor(claimed: str, sensor_id: str) -> bool:
    try:
        return uuid.UUID(claimed) == uuid.UUID(sensor_id)
    except ValueError:
        return False


def _envelope(body: bytes) -> tuple[str, list[Any]]:
    doc = load_object(
        body,
        MAX_BODY_BYTES,
        malformed=InvalidBody,
        not_object=lambda _: InvalidBody('the body must be a JSON object: {"sensorId": "<uuid>", "readings": [...]}'),
    )
    unknown = [k for k in doc if k not in _BATCH_FIELDS]
    if unknown:
        hint = (
            " (do not send a timestamp: the server stamps the time)"
            if any("time" in k.lower() for k in unknown)
            else ""
        )
        raise InvalidBody(f"unknown field(s) {', '.join(map(repr, unknown))}; a batch has sensorId and readings{hint}")
    sensor_id = doc.get("sensorId")
    if not isinstance(sensor_id, str) or not sensor_id:
        raise InvalidBody("sensorId is required: the sensor's id (a UUID string)", pointer="/sensorId")
    readings = doc.get("readings")
    if not isinstance(readings, list):
        raise InvalidBody("readings is required: an array of {parameterCode, value, unit}", pointer="/readings")
    return sensor_id, readings


def _validate(sensor: SensorRecord, readings: list[Any]) -> tuple[dict[str, float], list[str]]:
    """All-or-nothing: every problem is collected; any problem rejects the batch."""
    if not readings:
        raise BatchRejected([ReadingProblem("empty-batch", "readings must contain at least one reading")])
    problems: list[ReadingProblem] = []
    seen: dict[str, int] = {}
    values: dict[str, float] = {}
    codes: list[str] = []
    declared = set(sensor.parameters)
    for i, reading in enumerate(readings):
        problem = _check(sensor, declared, seen, i, reading)
        if problem is not None:
            problems.append(problem)
            continue
        code = reading["parameterCode"]
        values[sensor.metricIds[code]] = float(reading["value"])
        codes.append(code)
    if problems:
        raise BatchRejected(problems)
    return values, codes


def _check(
    sensor: SensorRecord, declared: set[str], seen: dict[str, int], i: int, reading: Any
) -> ReadingProblem | None:
    if type(reading) is not dict:
        return ReadingProblem("invalid-body", f"readings[{i}] must be an object with parameterCode, value and unit", i)
    code = reading.get("parameterCode")
    if not isinstance(code, str) or not code:
        return ReadingProblem("invalid-body", f"readings[{i}].parameterCode is required: a string", i)
    unknown = [k for k in reading if k not in _READING_FIELDS]
    if unknown:
        return ReadingProblem(
            "invalid-body",
            f"readings[{i}] has unknown field(s) {', '.join(map(repr, unknown))}; a reading has parameterCode, "
            "value and unit (no timestamp: the server stamps the time)",
            i,
            code,
        )
    if code in seen:
        return ReadingProblem(
            "duplicate-parameter",
            f"{code} is sent twice (readings[{seen[code]}] and readings[{i}]); send one reading per parameter",
            i,
            code,
        )
    seen[code] = i
    parameter = PARAMETERS.get(code)
    if code not in declared or parameter is None or code not in sensor.metricIds:
        why = "is not a parameter of the catalog" if parameter is None else "is not declared by this sensor"
        return ReadingProblem(
            "parameter-not-declared",
            f"{code} {why}; sensor {sensor.id} declares {', '.join(sensor.parameters)}",
            i,
            code,
        )
    value = reading.get("value")
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        got = "missing" if "value" not in reading else f"{type(value).__name__ if value is not None else 'null'}"
        return ReadingProblem("invalid-value", f"readings[{i}].value must be a number, got {got}", i, code)
    unit = reading.get("unit")
    if unit != parameter.unit:
        return ReadingProblem(
            "unit-mismatch",
            f"{code} is measured in {parameter.unit!r}, got {unit!r}{_lookalike(unit, parameter.unit)}",
            i,
            code,
        )
    if not parameter.min <= value <= parameter.max:
        return ReadingProblem(
            "value-out-of-range",
            f"{code} {value} {parameter.unit} is outside the permitted range "
            f"{parameter.min:g} to {parameter.max:g} {parameter.unit}",
            i,
            code,
        )
    return None


def _lookalike(unit: Any, canonical: str) -> str:
    """A hint when the unit differs only by Unicode look-alikes (e.g. Greek mu for micro sign)."""
    if isinstance(unit, str) and unicodedata.normalize("NFKC", unit) == unicodedata.normalize("NFKC", canonical):
        points = " ".join(f"U+{ord(c):04X}" for c in canonical)
        return f" (it looks the same but its characters differ: send exactly {points})"
    return ""
