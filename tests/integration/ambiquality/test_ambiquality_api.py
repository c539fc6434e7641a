"""The Ambiquality routes in-process under moto: the real template's tables, queue, gateway
routing and authorizer (tests/integration/conftest.py), DynamoDB and SQS adapters."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import boto3
import pytest

from tests.integration.ambiquality.helpers import DOC_READINGS, assert_problem, make_sensor, send
from tests.integration.conftest import Platform, drain

EVENTS = Path(__file__).resolve().parents[3] / "events"


# ---------------------------------------------------------------- operator API
def test_operator_flow_buildings_rooms_sensors(platform: Platform) -> None:
    made = make_sensor(platform, measurement_frequency_seconds=600)
    key, sensor = made.key, made.sensor
    assert str(uuid.UUID(sensor["id"])) == sensor["id"]
    assert sensor["secretKey"].startswith("amq_sk_")
    assert sensor["measurement_frequency_seconds"] == 600 and sensor["status"] == "active"

    listed = platform.call("GET", "/v2/buildings", key=key)
    assert listed.status == 200 and [b["id"] for b in listed.body["items"]] == [made.building["id"]]
    got = platform.call("GET", f"/v2/buildings/{made.building['id']}", key=key)
    assert got.status == 200 and got.body == made.building
    rooms = platform.call("GET", f"/v2/buildings/{made.building['id']}/rooms", key=key)
    assert [r["id"] for r in rooms.body["items"]] == [made.room["id"]]
    assert platform.call("GET", f"/v2/rooms/{made.room['id']}", key=key).body == made.room
    sensors = platform.call("GET", f"/v2/rooms/{made.room['id']}/sensors", key=key)
    assert [s["id"] for s in sensors.body["items"]] == [sensor["id"]]
    one = platform.call("GET", f"/v2/sensors/{sensor['id']}", key=key)
    assert one.status == 200 and "secretKey" not in one.body and "keyHash" not in one.body
    assert one.body["keyPrefix"] == sensor["secretKey"][:11]
    # the platform sees the building as a site and the sensor as a thing in it
    site = platform.call("GET", f"/v2/sites/{made.building['placeId']}", key=key)
    assert site.status == 200 and site.body["name"] == "HQ"
    thing = platform.call("GET", f"/v2/things/{sensor['thingId']}", key=key)
    assert thing.status == 200 and thing.body["properties"]["sensorId"] == sensor["id"]


def test_secret_answers_are_not_cacheable(platform: Platform) -> None:
    made = make_sensor(platform)
    rotated = platform.call("POST", f"/v2/sensors/{made.sensor_id}/rotate-key", key=made.key)
    assert rotated.status == 200 and rotated.header("Cache-Control") == "no-store"
    created = platform.call(
        "POST", f"/v2/rooms/{made.room['id']}/sensors", {"name": "S", "parameters": ["co2"]}, key=made.key
    )
    assert created.header("Cache-Control") == "no-store"


@pytest.mark.parametrize("frequency", [299, 0, 60, "300", 300.5])
def test_a_reporting_interval_below_the_floor_or_not_an_integer_is_refused(
    platform: Platform, frequency: object
) -> None:
    made = make_sensor(platform)
    answer = platform.call(
        "POST",
        f"/v2/rooms/{made.room['id']}/sensors",
        {"name": "S", "parameters": ["co2"], "measurement_frequency_seconds": frequency},
        key=made.key,
    )
    assert answer.status == 400, answer
    assert answer.body["type"] == "urn:telemetry:problem:validation-error"
    assert answer.body["errors"][0]["path"] == "measurement_frequency_seconds"
    patched = platform.call(
        "PATCH", f"/v2/sensors/{made.sensor_id}", {"measurement_frequency_seconds": frequency}, key=made.key
    )
    assert patched.status == 400


def test_unknown_parameter_code_is_refused_at_registration(platform: Platform) -> None:
    made = make_sensor(platform)
    answer = platform.call(
        "POST", f"/v2/rooms/{made.room['id']}/sensors", {"name": "S", "parameters": ["radon"]}, key=made.key
    )
    assert answer.status == 400 and "radon" in answer.body["errors"][0]["message"]


def test_scopes_and_tenancy(platform: Platform) -> None:
    made = make_sensor(platform)
    reader = platform.key("amq-reader-org", ["sensors:read"])
    stranger = platform.key("amq-stranger-org")
    assert platform.call("POST", "/v2/buildings", {"name": "X"}, key=reader).status == 403
    assert platform.call("GET", f"/v2/sensors/{made.sensor_id}", key=stranger).status == 404
    assert platform.call("GET", f"/v2/buildings/{made.building['id']}", key=stranger).status == 404
    assert platform.call("PATCH", f"/v2/sensors/{made.sensor_id}", {"status": "retired"}, key=stranger).status == 404
    assert platform.call("GET", "/v2/buildings", key="avy_wrong").status == 401


def test_patch_and_rotate(platform: Platform) -> None:
    made = make_sensor(platform)
    patched = platform.call(
        "PATCH",
        f"/v2/sensors/{made.sensor_id}",
        {"status": "maintenance", "parameters": ["co2"], "measurement_frequency_seconds": 900},
        key=made.key,
    )
    assert patched.status == 200, patched
    assert (patched.body["status"], patched.body["parameters"], patched.body["measurement_frequency_seconds"]) == (
        "maintenance",
        ["co2"],
        900,
    )
    assert platform.call("PATCH", f"/v2/sensors/{made.sensor_id}", {"status": "broken"}, key=made.key).status == 400
    rotated = platform.call("POST", f"/v2/sensors/{made.sensor_id}/rotate-key", key=made.key)
    new_key = rotated.body["secretKey"]
    assert new_key != made.sensor_key
    platform.call("PATCH", f"/v2/sensors/{made.sensor_id}", {"status": "active"}, key=made.key)
    body = {"sensorId": made.sensor_id, "readings": DOC_READINGS[:1]}
    assert_problem(send(platform, made.sensor_key, body), 401, "invalid-key")
    assert send(platform, new_key, body).status == 202


# ---------------------------------------------------------------- ingestion
def test_accepted_202_and_visible_through_the_platform_queries(platform: Platform) -> None:
    made = make_sensor(platform)
    answer = send(platform, made.sensor_key, {"sensorId": made.sensor_id, "readings": DOC_READINGS})
    assert answer.status == 202, answer
    assert answer.header("Content-Type") == "application/json"
    body = answer.body
    assert body["sensorId"] == made.sensor_id
    assert [m["parameterCode"] for m in body["measurements"]] == ["co2", "temperature"]
    assert all(uuid.UUID(m["id"]) for m in body["measurements"])
    assert drain(platform) >= 1
    latest = platform.call("GET", f"/v2/things/{made.sensor['thingId']}/latest-event", key=made.key)
    assert latest.status == 200, latest
    assert latest.body["metrics"] == {"amq.co2": 812.0, "amq.temperature": 21.4}
    # the same instant (the platform drops ".000" from a whole second, the dialect always writes it)
    from telemetry.clock import ms_from_iso

    assert ms_from_iso(latest.body["time"]) == ms_from_iso(body["receivedAt"])


def test_no_authorizer_on_the_ingestion_route(platform: Platform) -> None:
    """Without X-Api-Key the gateway does not answer its own 401: the function does, in the
    document's problem shape."""
    answer = platform.call("POST", "/ingestion/v1/measurements", {"sensorId": str(uuid.uuid4()), "readings": []})
    body = assert_problem(answer, 401, "missing-key")
    assert body["instance"] == "/ingestion/v1/measurements"


def test_401_403_422_types(platform: Platform) -> None:
    made = make_sensor(platform)
    sid = made.sensor_id
    assert_problem(send(platform, "amq_sk_wrong", {"sensorId": sid, "readings": DOC_READINGS}), 401, "invalid-key")
    other = make_sensor(platform, key=made.key)
    assert_problem(send(platform, other.sensor_key, {"sensorId": sid, "readings": DOC_READINGS}), 401, "invalid-key")
    cases = [
        ([], "empty-batch", None, None),
        ([DOC_READINGS[0], DOC_READINGS[0]], "duplicate-parameter", 1, "co2"),
        ([{"parameterCode": "humidity", "value": 40, "unit": "%"}], "parameter-not-declared", 0, "humidity"),
        ([{"parameterCode": "co2", "value": 20000, "unit": "ppm"}], "value-out-of-range", 0, "co2"),
        ([{"parameterCode": "temperature", "value": 70, "unit": "°F"}], "unit-mismatch", 0, "temperature"),
        ([{"parameterCode": "co2", "value": "812", "unit": "ppm"}], "invalid-value", 0, "co2"),
        ([{"parameterCode": "co2", "value": 812, "unit": "ppm", "timestamp": 1}], "invalid-body", 0, "co2"),
    ]
    for readings, reason, index, code in cases:
        problem = assert_problem(send(platform, made.sensor_key, {"sensorId": sid, "readings": readings}), 422, reason)
        assert problem.get("index") == index and problem.get("parameterCode") == code, problem
        if index is not None:
            assert problem["errors"][0]["type"] == f"urn:ambiquality:ingestion:{reason}"
    answer = platform.call(
        "POST", "/ingestion/v1/measurements", b'{"sensorId": ', headers={"X-Sensor-Key": made.sensor_key}
    )
    assert_problem(answer, 422, "invalid-body")
    platform.call("PATCH", f"/v2/sensors/{sid}", {"status": "retired"}, key=made.key)
    problem = assert_problem(
        send(platform, made.sensor_key, {"sensorId": sid, "readings": DOC_READINGS}), 403, "sensor-not-active"
    )
    assert problem["sensorStatus"] == "retired"


def test_a_422_does_not_use_up_the_interval_but_an_accepted_batch_does(platform: Platform) -> None:
    made = make_sensor(platform)
    bad = {"sensorId": made.sensor_id, "readings": [{"parameterCode": "co2", "value": -5, "unit": "ppm"}]}
    assert_problem(send(platform, made.sensor_key, bad), 422, "value-out-of-range")
    good = {"sensorId": made.sensor_id, "readings": DOC_READINGS}
    assert send(platform, made.sensor_key, good).status == 202
    limited = send(platform, made.sensor_key, good)
    problem = assert_problem(limited, 429, "rate-limited")
    retry = limited.header("Retry-After")
    assert retry is not None and retry.isdigit() and 290 <= int(retry) <= 300
    assert problem["retryAfter"] == int(retry)


def test_503_when_the_queue_refuses_nothing_stored_and_the_interval_not_used(platform: Platform) -> None:
    """A real fault: the queue is deleted (SQS answers QueueDoesNotExist), then recreated."""
    made = make_sensor(platform)
    sqs = boto3.client("sqs", region_name="us-east-1")
    queue = platform.resources["ReadingsQueue"]
    attributes = sqs.get_queue_attributes(QueueUrl=queue.ref, AttributeNames=["All"])["Attributes"]
    drain(platform)
    sqs.delete_queue(QueueUrl=queue.ref)
    try:
        answer = send(platform, made.sensor_key, {"sensorId": made.sensor_id, "readings": DOC_READINGS})
        assert_problem(answer, 503, "service-unavailable")
    finally:
        keep = ("VisibilityTimeout", "MessageRetentionPeriod", "RedrivePolicy")
        sqs.create_queue(
            QueueName=queue.attributes["QueueName"], Attributes={k: attributes[k] for k in keep if k in attributes}
        )
    assert send(platform, made.sensor_key, {"sensorId": made.sensor_id, "readings": DOC_READINGS}).status == 202
    assert drain(platform) == 1  # only the accepted batch


def test_413_in_the_dialects_shape(platform: Platform) -> None:
    made = make_sensor(platform)
    answer = platform.call(
        "POST", "/ingestion/v1/measurements", b" " * (64 * 1024 + 1), headers={"X-Sensor-Key": made.sensor_key}
    )
    assert_problem(answer, 413, "payload-too-large")


def test_parameters_catalog_is_public(platform: Platform) -> None:
    answer = platform.call("GET", "/ingestion/v1/parameters")
    assert answer.status == 200
    codes = {p["code"]: p["unit"] for p in answer.body["items"]}
    assert codes["temperature"] == "°C" and codes["noise"] == "dB(A)" and codes["voc"] == "ppb"


@pytest.mark.parametrize("name", sorted(p.stem for p in EVENTS.glob("amq_*.json")))
def test_sample_events_invoke_their_function(platform: Platform, name: str) -> None:
    """Each events/amq_*.json drives its function (the sample ids/keys do not exist: 401/404)."""
    event = json.loads((EVENTS / f"{name}.json").read_text(encoding="utf-8"))
    auth = event["requestContext"].get("authorizer")
    if auth:
        auth["orgId"] = "org_nobody"
    logical_id = "Amq" + "".join(w.capitalize() for w in name.removeprefix("amq_").split("_")) + "Function"
    out = platform.functions[logical_id].invoke(event)
    expected = {
        "amq_buildings_create": 201,
        "amq_buildings_list": 200,
        "amq_parameters_list": 200,
        "amq_measurements_ingest": 401,
    }.get(name, 404)
    assert out["statusCode"] == expected, out
