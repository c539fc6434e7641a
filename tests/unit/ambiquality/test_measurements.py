"""Every rule of "Sending measurements", on the real service with in-memory adapters."""

from __future__ import annotations

import uuid
from typing import Any

import orjson
import pytest
from telemetry.errors import PayloadTooLarge, Unavailable
from telemetry.models.ambiquality import SensorStatus, SensorUpdate
from telemetry.models.metrics import DataType
from telemetry.models.readings import SeriesKind
from telemetry.services.ambiquality.errors import (
    BatchRejected,
    InvalidBody,
    InvalidKey,
    MissingKey,
    SensorNotActive,
    SensorRateLimited,
)
from telemetry.services.ambiquality.measurements import measurement_id
from telemetry.services.writer import write_batch

from .conftest import DOC_READINGS, T0, World, batch


def rejected(world: World, key: str, body: bytes) -> BatchRejected:
    with pytest.raises(BatchRejected) as caught:
        world.s.measurements.ingest(key, body)
    assert world.c.queue.batches == []  # type: ignore[attr-defined]
    return caught.value


# ---------------------------------------------------------------- accepted
def test_accepted_batch_has_one_server_time_and_an_id_per_reading(world: World) -> None:
    sensor = world.sensor()
    accepted = world.s.measurements.ingest(sensor.secretKey, batch(sensor.id, *DOC_READINGS))
    answer = accepted.as_dict()
    assert answer["sensorId"] == sensor.id
    assert answer["receivedAt"] == "2024-05-01T12:00:00.000Z"
    assert [m["parameterCode"] for m in answer["measurements"]] == ["co2", "temperature"]
    ids = [m["id"] for m in answer["measurements"]]
    assert len(set(ids)) == 2 and all(uuid.UUID(i).version == 5 for i in ids)
    assert ids[0] == measurement_id(sensor.id, T0, "co2")


def test_one_accepted_batch_of_thing_rows_keyed_by_metric_ids_at_the_server_time(world: World) -> None:
    sensor = world.sensor()
    world.s.measurements.ingest(sensor.secretKey, batch(sensor.id, *DOC_READINGS))
    batches = world.c.queue.batches  # type: ignore[attr-defined]
    assert len(batches) == 1
    (group,) = batches[0].groups
    catalog = world.s.catalog.ensure(world.principal.org_id)
    co2, temp = catalog.metricIds["co2"], catalog.metricIds["temperature"]
    assert group.kind is SeriesKind.THING and group.series_id == sensor.thingId
    assert group.types == {co2: DataType.Double, temp: DataType.Double}
    assert group.rows == [(T0, {co2: 812.0, temp: 21.4})]
    assert batches[0].org_id == world.principal.org_id


def test_readings_are_visible_through_the_platform_queries(world: World) -> None:
    sensor = world.sensor()
    world.s.measurements.ingest(sensor.secretKey, batch(sensor.id, *DOC_READINGS))
    world.clock.advance(300)
    world.s.measurements.ingest(sensor.secretKey, batch(sensor.id, ("co2", 900, "ppm")))
    for b in world.c.queue.batches:  # type: ignore[attr-defined]
        write_batch(world.c.readings, b)
    latest = world.c.queries.latest(world.principal, sensor.thingId)
    assert latest["timestamp"] == T0 + 300_000
    assert latest["metrics"] == {"amq.co2": 900.0}
    history = world.c.queries.history(
        world.principal, sensor.thingId, start=str(T0), end=str(T0 + 600_000), metrics=None, limit=10, cursor=None
    )
    assert [f["metrics"] for f in history["frames"]] == [
        {"amq.co2": 812.0, "amq.temperature": 21.4},
        {"amq.co2": 900.0},
    ]


def test_every_catalog_parameter_at_its_bounds_is_accepted(world: World) -> None:
    from telemetry.models.ambiquality import CATALOG

    sensor = world.sensor([p.code for p in CATALOG])
    low = [(p.code, p.min, p.unit) for p in CATALOG]
    high = [(p.code, p.max, p.unit) for p in CATALOG]
    assert len(world.s.measurements.ingest(sensor.secretKey, batch(sensor.id, *low)).measurements) == len(CATALOG)
    world.clock.advance(300)
    assert len(world.s.measurements.ingest(sensor.secretKey, batch(sensor.id, *high)).measurements) == len(CATALOG)


def test_a_subset_of_the_declared_parameters_is_fine(world: World) -> None:
    sensor = world.sensor(["co2", "temperature", "humidity"])
    assert world.s.measurements.ingest(sensor.secretKey, batch(sensor.id, ("humidity", 40, "%"))).measurements


def test_sensor_id_in_any_uuid_spelling(world: World) -> None:
    sensor = world.sensor()
    accepted = world.s.measurements.ingest(sensor.secretKey, batch(sensor.id.upper(), *DOC_READINGS))
    assert accepted.sensor_id == sensor.id


# ---------------------------------------------------------------- 401 / 403
@pytest.mark.parametrize("key", [None, ""])
def test_missing_key_is_401(world: World, key: str | None) -> None:
    sensor = world.sensor()
    with pytest.raises(MissingKey):
        world.s.measurements.ingest(key, batch(sensor.id, *DOC_READINGS))


@pytest.mark.parametrize("key", ["amq_sk_wrong", "avy_platform_key", "amq_sk_" + "x" * 300])
def test_wrong_key_is_401(world: World, key: str) -> None:
    sensor = world.sensor()
    with pytest.raises(InvalidKey):
        world.s.measurements.ingest(key, batch(sensor.id, *DOC_READINGS))


def test_a_platform_api_key_is_not_a_sensor_key(world: World) -> None:
    sensor = world.sensor()
    with pytest.raises(InvalidKey):
        world.s.measurements.ingest(world.admin_key, batch(sensor.id, *DOC_READINGS))


def test_a_key_that_is_not_this_sensors_is_401(world: World) -> None:
    mine, other = world.sensor(), world.sensor()
    with pytest.raises(InvalidKey) as caught:
        world.s.measurements.ingest(other.secretKey, batch(mine.id, *DOC_READINGS))
    assert mine.id in caught.value.detail
    with pytest.raises(InvalidKey):
        world.s.measurements.ingest(mine.secretKey, batch("not-a-uuid", *DOC_READINGS))
    assert world.c.queue.batches == []  # type: ignore[attr-defined]


def test_a_key_is_401_before_the_body_is_even_read(world: World) -> None:
    with pytest.raises(InvalidKey):
        world.s.measurements.ingest("amq_sk_nope", b"not json")


@pytest.mark.parametrize("status", [SensorStatus.maintenance, SensorStatus.retired])
def test_inactive_sensor_is_403_and_reactivation_restores_it(world: World, status: SensorStatus) -> None:
    sensor = world.sensor()
    world.s.admin.update_sensor(world.principal, sensor.id, SensorUpdate(status=status))
    with pytest.raises(SensorNotActive) as caught:
        world.s.measurements.ingest(sensor.secretKey, batch(sensor.id, *DOC_READINGS))
    assert caught.value.extra == {"sensorStatus": status.value}
    world.s.admin.update_sensor(world.principal, sensor.id, SensorUpdate(status=SensorStatus.active))
    assert world.s.measurements.ingest(sensor.secretKey, batch(sensor.id, *DOC_READINGS)).measurements


def test_inactive_sensor_with_an_invalid_batch_is_403(world: World) -> None:
    sensor = world.sensor()
    world.s.admin.update_sensor(world.principal, sensor.id, SensorUpdate(status=SensorStatus.retired))
    with pytest.raises(SensorNotActive):
        world.s.measurements.ingest(sensor.secretKey, batch(sensor.id))


# ---------------------------------------------------------------- 422
def test_empty_batch(world: World) -> None:
    sensor = world.sensor()
    err = rejected(world, sensor.secretKey, batch(sensor.id))
    assert err.reason == "empty-batch"


def test_duplicate_parameter(world: World) -> None:
    sensor = world.sensor()
    err = rejected(world, sensor.secretKey, batch(sensor.id, ("co2", 812, "ppm"), ("co2", 815, "ppm")))
    assert err.reason == "duplicate-parameter"
    assert (err.problems[0].index, err.problems[0].parameter_code) == (1, "co2")


@pytest.mark.parametrize("code", ["humidity", "radon", "CO2"])
def test_parameter_not_declared(world: World, code: str) -> None:
    sensor = world.sensor(["co2"])
    err = rejected(world, sensor.secretKey, batch(sensor.id, ("co2", 812, "ppm"), (code, 40, "%")))
    assert err.reason == "parameter-not-declared"
    assert (err.problems[0].index, err.problems[0].parameter_code) == (1, code)


@pytest.mark.parametrize("value", ["812", True, None, [812], {"v": 812}])
def test_value_must_be_a_number(world: World, value: Any) -> None:
    sensor = world.sensor()
    err = rejected(world, sensor.secretKey, batch(sensor.id, ("co2", value, "ppm")))
    assert err.reason == "invalid-value"


def test_missing_value_is_invalid_value(world: World) -> None:
    sensor = world.sensor()
    body = orjson.dumps({"sensorId": sensor.id, "readings": [{"parameterCode": "co2", "unit": "ppm"}]})
    assert rejected(world, sensor.secretKey, body).reason == "invalid-value"


@pytest.mark.parametrize(
    ("code", "value", "unit"),
    [("co2", -1, "ppm"), ("co2", 10_000.01, "ppm"), ("temperature", 100.5, "°C"), ("humidity", 101, "%")],
)
def test_value_out_of_range(world: World, code: str, value: float, unit: str) -> None:
    sensor = world.sensor(["co2", "temperature", "humidity"])
    err = rejected(world, sensor.secretKey, batch(sensor.id, (code, value, unit)))
    assert err.reason == "value-out-of-range"
    assert err.problems[0].parameter_code == code


@pytest.mark.parametrize("unit", ["°F", "C", "degC", "\u2103", None, "PPM"])
def test_unit_mismatch(world: World, unit: Any) -> None:
    sensor = world.sensor()
    code = "co2" if unit == "PPM" else "temperature"
    err = rejected(world, sensor.secretKey, batch(sensor.id, (code, 20, unit)))
    assert err.reason == "unit-mismatch"


def test_unit_lookalike_is_a_mismatch_with_a_hint(world: World) -> None:
    sensor = world.sensor(["pm2_5"])
    err = rejected(world, sensor.secretKey, batch(sensor.id, ("pm2_5", 12, "\u03bcg/m\u00b3")))  # Greek mu
    assert err.reason == "unit-mismatch"
    assert "U+00B5" in err.problems[0].detail


def test_unit_is_checked_before_the_range(world: World) -> None:
    sensor = world.sensor()
    err = rejected(world, sensor.secretKey, batch(sensor.id, ("temperature", 150, "°F")))
    assert err.reason == "unit-mismatch"


def test_all_or_nothing_and_every_problem_listed_first_one_names_the_type(world: World) -> None:
    sensor = world.sensor(["co2", "temperature", "humidity"])
    err = rejected(
        world,
        sensor.secretKey,
        batch(sensor.id, ("co2", 812, "ppm"), ("temperature", 21, "°F"), ("humidity", 140, "%")),
    )
    assert err.reason == "unit-mismatch"
    assert [(p.reason, p.index) for p in err.problems] == [("unit-mismatch", 1), ("value-out-of-range", 2)]
    assert "nothing was stored" in err.detail


@pytest.mark.parametrize(
    "body",
    [
        b"{not json",
        b"",
        b"[]",
        b'"text"',
        b'{"readings": []}',
        b'{"sensorId": 42, "readings": []}',
        b'{"sensorId": "SENSOR", "readings": {}}',
    ],
)
def test_invalid_body(world: World, body: bytes) -> None:
    sensor = world.sensor()
    body = body.replace(b'"SENSOR"', f'"{sensor.id}"'.encode())
    with pytest.raises(InvalidBody):
        world.s.measurements.ingest(sensor.secretKey, body)


def test_a_timestamp_is_refused_with_a_hint(world: World) -> None:
    sensor = world.sensor()
    body = orjson.dumps({"sensorId": sensor.id, "timestamp": 1, "readings": []})
    with pytest.raises(InvalidBody) as caught:
        world.s.measurements.ingest(sensor.secretKey, body)
    assert "server stamps the time" in caught.value.detail


@pytest.mark.parametrize(
    "reading",
    [
        [1, 2],
        "co2",
        {"parameterCode": 5, "value": 1, "unit": "ppm"},
        {"parameterCode": "co2", "value": 1, "unit": "ppm", "ts": 1},
    ],
)
def test_malformed_reading_is_invalid_body_with_its_index(world: World, reading: Any) -> None:
    sensor = world.sensor()
    body = orjson.dumps(
        {"sensorId": sensor.id, "readings": [{"parameterCode": "co2", "value": 1, "unit": "ppm"}, reading]}
    )
    err = rejected(world, sensor.secretKey, body)
    assert err.reason == "invalid-body" and err.problems[0].index == 1


def test_body_over_the_limit(world: World) -> None:
    sensor = world.sensor()
    with pytest.raises(PayloadTooLarge):
        world.s.measurements.ingest(sensor.secretKey, b" " * (64 * 1024 + 1))


# ---------------------------------------------------------------- 429
def test_second_batch_within_the_interval_is_429_with_whole_seconds(world: World) -> None:
    sensor = world.sensor()
    ingest = world.s.measurements
    ingest.ingest(sensor.secretKey, batch(sensor.id, *DOC_READINGS))
    world.clock.advance(100.4)
    with pytest.raises(SensorRateLimited) as caught:
        ingest.ingest(sensor.secretKey, batch(sensor.id, *DOC_READINGS))
    assert caught.value.retry_after_seconds == 200  # ceil(199.6)
    world.clock.advance(199.5)
    with pytest.raises(SensorRateLimited) as caught:
        ingest.ingest(sensor.secretKey, batch(sensor.id, *DOC_READINGS))
    assert caught.value.retry_after_seconds == 1
    world.clock.advance(0.1)  # exactly 300 s after the accepted batch
    assert ingest.ingest(sensor.secretKey, batch(sensor.id, *DOC_READINGS)).measurements
    assert len(world.c.queue.batches) == 2  # type: ignore[attr-defined]


def test_the_interval_is_per_sensor(world: World) -> None:
    a, b = world.sensor(), world.sensor()
    world.s.measurements.ingest(a.secretKey, batch(a.id, *DOC_READINGS))
    assert world.s.measurements.ingest(b.secretKey, batch(b.id, *DOC_READINGS)).measurements


def test_the_interval_follows_the_sensors_frequency(world: World) -> None:
    sensor = world.sensor(measurement_frequency_seconds=900)
    ingest = world.s.measurements
    ingest.ingest(sensor.secretKey, batch(sensor.id, *DOC_READINGS))
    world.clock.advance(300)
    with pytest.raises(SensorRateLimited) as caught:
        ingest.ingest(sensor.secretKey, batch(sensor.id, *DOC_READINGS))
    assert caught.value.retry_after_seconds == 600
    world.s.admin.update_sensor(world.principal, sensor.id, SensorUpdate(measurement_frequency_seconds=300))
    world.clock.advance(600)
    ingest.ingest(sensor.secretKey, batch(sensor.id, *DOC_READINGS))
    world.clock.advance(300)  # the new, shorter interval applies from the next accepted batch
    assert ingest.ingest(sensor.secretKey, batch(sensor.id, *DOC_READINGS)).measurements


def test_a_rejected_batch_does_not_use_up_the_interval(world: World) -> None:
    sensor = world.sensor()
    ingest = world.s.measurements
    with pytest.raises(BatchRejected):
        ingest.ingest(sensor.secretKey, batch(sensor.id, ("co2", 812, "°C")))
    with pytest.raises(InvalidBody):
        ingest.ingest(sensor.secretKey, b"{")
    world.clock.advance(1)
    assert ingest.ingest(sensor.secretKey, batch(sensor.id, *DOC_READINGS)).measurements


def test_403_and_401_do_not_use_up_the_interval(world: World) -> None:
    sensor = world.sensor()
    world.s.admin.update_sensor(world.principal, sensor.id, SensorUpdate(status=SensorStatus.maintenance))
    with pytest.raises(SensorNotActive):
        world.s.measurements.ingest(sensor.secretKey, batch(sensor.id, *DOC_READINGS))
    world.s.admin.update_sensor(world.principal, sensor.id, SensorUpdate(status=SensorStatus.active))
    assert world.s.measurements.ingest(sensor.secretKey, batch(sensor.id, *DOC_READINGS)).measurements


# ---------------------------------------------------------------- 503
def test_queue_refusal_is_unavailable_nothing_stored_and_the_slot_is_given_back(world: World) -> None:
    sensor = world.sensor()
    queue = world.c.queue
    queue.fail = True  # type: ignore[attr-defined]
    with pytest.raises(Unavailable):
        world.s.measurements.ingest(sensor.secretKey, batch(sensor.id, *DOC_READINGS))
    assert queue.batches == []  # type: ignore[attr-defined]
    assert world.s.repo.slot_until(world.principal.org_id, sensor.id) is None
    queue.fail = False  # type: ignore[attr-defined]
    world.clock.advance(2)  # the device retries with backoff: accepted, not 429
    accepted = world.s.measurements.ingest(sensor.secretKey, batch(sensor.id, *DOC_READINGS))
    assert accepted.received_at_ms == T0 + 2000
    assert len(queue.batches) == 1  # type: ignore[attr-defined]
