"""The Python client (shared/telemetry_client) against the real local stack, every method family:
a positive request each, a typed exception for a 4xx, and the split of an oversize send."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import httpx
import pytest
from telemetry_client import (
    AsyncClient,
    BadRequest,
    Client,
    Conflict,
    NotFound,
    Unauthorized,
)
from telemetry_client import limits as client_limits

from tests.support import eventually

pytestmark = pytest.mark.e2e
T0 = 1718884800000


class Counting(httpx.HTTPTransport):
    """The real transport, counting the requests of each (method, path)."""

    def __init__(self) -> None:
        super().__init__()
        self.sent: list[tuple[str, str, int]] = []

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        self.sent.append((request.method, request.url.path, len(request.content)))
        return super().handle_request(request)


@pytest.fixture(scope="module")
def transport() -> Counting:
    return Counting()


@pytest.fixture(scope="module")
def api(local_stack: Any, api_key: str, transport: Counting) -> Any:
    with Client(local_stack.url, api_key, transport=transport) as client:
        yield client


@pytest.fixture(scope="module")
def setup(api: Client) -> dict[str, Any]:
    suffix = time.monotonic_ns()
    soc = api.create_metric({"name": f"soc{suffix}", "dataType": "Double", "defaultAggregation": "Avg"})
    mode = api.create_metric({"name": f"mode{suffix}", "dataType": "String", "defaultAggregation": "Last"})
    ttype = api.create_thing_type({"displayName": "Battery", "metricIds": [soc["id"], mode["id"]]})
    site = api.create_site({"name": f"Plant {suffix}"})
    thing = api.create_site_thing(site["id"], {"thingName": "A1", "thingTypeId": ttype["id"]})
    return {"soc": soc, "mode": mode, "type": ttype, "site": site, "thing": thing["id"]}


def test_definitions_places_and_things_round_trip(api: Client, setup: dict[str, Any]) -> None:
    assert api.get_metric(setup["soc"]["id"])["name"] == setup["soc"]["name"]
    assert setup["soc"]["id"] in {m["id"] for m in api.list_metrics(page_limit=1)}  # paginated one by one
    version = api.create_thing_type_version(setup["type"]["id"], {"metricIds": [setup["soc"]["id"]]})
    assert version["version"] == 2
    assert len(api.get_thing_type(setup["type"]["id"])["versions"]) == 2
    assert setup["type"]["id"] in {t["id"] for t in api.list_thing_types()}
    assert api.get_site(setup["site"]["id"])["name"] == setup["site"]["name"]
    assert setup["site"]["id"] in {s["id"] for s in api.list_sites()}
    fleet = api.create_fleet({"name": "Vans"})
    assert api.get_fleet(fleet["id"])["id"] == fleet["id"] and fleet["id"] in {f["id"] for f in api.list_fleets()}
    van = api.create_fleet_thing(fleet["id"], {"thingName": "van"})
    assert [t["id"] for t in api.list_fleet_things(fleet["id"])] == [van["id"]]
    assert api.get_thing(setup["thing"])["thingName"] == "A1"
    assert [t["id"] for t in api.list_site_things(setup["site"]["id"])] == [setup["thing"]]


def test_bulk_registration_is_split_into_parts_of_100(api: Client, setup: dict[str, Any], transport: Counting) -> None:
    before = len(transport.sent)
    answer = api.create_things_bulk(setup["site"]["id"], [{"thingName": f"bulk-{i}"} for i in range(130)])
    bulk_posts = [s for s in transport.sent[before:] if s[1].endswith("/things/bulk")]
    assert len(bulk_posts) == 2 and answer["created"] == 130 and answer["failed"] == 0
    assert [r["index"] for r in answer["results"]] == list(range(130))


def test_frames_history_latest_and_aggregates(api: Client, setup: dict[str, Any]) -> None:
    soc, mode = setup["soc"]["name"], setup["mode"]["name"]
    frames = [{"timestamp": T0 + i * 60_000, "metrics": {soc: 50 + i, mode: "auto"}} for i in range(12)]
    summary = api.send_frames(setup["thing"], frames)
    assert summary["framesIngested"] == 12
    latest = eventually(lambda: (e := api.latest_event(setup["thing"]))["timestamp"] == frames[-1]["timestamp"] and e)
    assert latest["metrics"] == {soc: 61.0, mode: "auto"}
    history = list(api.history(setup["thing"], start=T0, end=T0 + 3_600_000, metrics=[soc], page_limit=5))
    assert [f["metrics"][soc] for f in history] == [50.0 + i for i in range(12)]  # three pages
    agg = api.aggregates(setup["thing"], interval="5m", start=T0, end=T0 + 3_600_000, metrics=[f"{soc}:Max"])
    assert [b["metrics"][soc] for b in agg["buckets"]] == [54.0, 59.0, 61.0]


def test_an_oversize_send_is_split_before_it_is_sent(api: Client, setup: dict[str, Any], transport: Counting) -> None:
    soc = setup["soc"]["name"]
    count = client_limits.MAX_FRAMES + 2_500
    start = T0 + 10**9
    frames = [{"timestamp": start + i, "metrics": {soc: i % 100}} for i in range(count)]
    before = len(transport.sent)
    summary = api.send_frames(setup["thing"], frames)
    posts = [s for s in transport.sent[before:] if s[0] == "POST"]
    assert len(posts) == 2 and all(size <= client_limits.MAX_INGEST_BYTES for *_, size in posts)
    assert summary["framesIngested"] == count and summary["requests"] == 2

    # both parts stored: the frames either side of the cut, and the last one (scanning all 12,500
    # rows on moto's DynamoDB would take minutes)
    cut = [start + client_limits.MAX_FRAMES - 1, start + client_limits.MAX_FRAMES]

    def boundary() -> list[Any]:
        got = list(api.history(setup["thing"], start=cut[0], end=cut[1] + 1))
        return [f["timestamp"] for f in got] == cut and got

    assert eventually(boundary, timeout=90)
    assert eventually(lambda: api.latest_event(setup["thing"])["timestamp"] == start + count - 1, timeout=180)


def test_typed_exceptions_carry_the_problem_fields(api: Client, setup: dict[str, Any], local_stack: Any) -> None:
    with pytest.raises(BadRequest) as bad:
        api.send_frames(setup["thing"], [{"timestamp": T0, "metrics": {"nope": 1}}])
    assert bad.value.status == 400 and bad.value.type and bad.value.type.endswith("validation-error")
    assert bad.value.errors == [{"path": "frames/0/metrics/nope", "message": "is not a metric of the thing's type"}]
    with pytest.raises(NotFound) as missing:
        api.get_thing("thing_doesnotexist")
    assert missing.value.title and missing.value.status == 404
    with pytest.raises(Conflict):
        api.create_metric({"name": setup["soc"]["name"].upper(), "dataType": "Double", "defaultAggregation": "Avg"})
    with Client(local_stack.url, "avy_wrong") as stranger, pytest.raises(Unauthorized) as refused:
        stranger.list_sites().__next__()
    assert refused.value.status == 401


def test_templates_test_apply_and_transactions(api: Client, setup: dict[str, Any]) -> None:
    soc_id, soc = setup["soc"]["id"], setup["soc"]["name"]
    template = api.create_template(
        {
            "name": "rows",
            "target": "ThingData",
            "format": "JsonPointer",
            "spec": {
                "recordsPointer": "/rows",
                "timestamp": {"source": {"pointer": "/t"}, "format": "epoch_ms"},
                "mappings": [{"metricId": soc_id, "source": {"pointer": "/v"}}],
            },
        }
    )
    assert api.get_template(template["id"])["revision"] == 1
    assert template["id"] in {t["id"] for t in api.list_templates(target="ThingData")}
    updated = api.update_template(template["id"], {"description": "rows of t and v"})
    assert updated["revision"] == 2
    start = T0 + 2 * 10**9
    rows = [{"t": start + i, "v": i % 90} for i in range(2_300)] + [{"t": "later", "v": 1}]
    report = api.test_template(template["id"], {"rows": rows})  # 2,301 records: three requests
    assert report["recordsParsed"] == 2_301 and report["requests"] == 3
    assert report["recordsSkipped"][0]["index"] == 2_300  # the index in the whole payload
    applied = api.apply_template(setup["thing"], template["id"], {"rows": rows})
    assert applied["readingsWritten"] == 2_300
    assert eventually(
        lambda: sum(1 for _ in api.history(setup["thing"], start=start, end=start + 3000, metrics=[soc])) == 2_300,
        timeout=180,
    )
    tx = api.create_template(
        {
            "name": "orders",
            "target": "Transactions",
            "format": "JsonPointer",
            "spec": {
                "recordsPointer": "/orders",
                "timestamp": {"source": {"pointer": "/at"}, "format": "epoch_ms"},
                "id": {"pointer": "/id"},
                "type": {"pointer": "/kind"},
                "amount": {"pointer": "/total"},
                "currency": {"pointer": "/cur"},
            },
        }
    )
    orders = [{"id": f"o{i}", "kind": "sale", "at": T0 + i, "total": 10 + i, "cur": "EUR"} for i in range(3)]
    assert api.apply_transactions(tx["id"], {"orders": orders})["recordsParsed"] == 3
    listed = eventually(lambda: len(x := list(api.list_transactions(type="sale", start=T0, end=T0 + 10))) == 3 and x)
    assert sorted(t["id"] for t in listed) == ["o0", "o1", "o2"]
    assert api.delete_template(template["id"])["status"] == "deleted"


def test_api_keys(api: Client, local_stack: Any) -> None:
    created = api.create_api_key({"name": "reader", "scopes": ["places:read"]})
    assert created["key"].startswith("avy_")
    assert api.get_api_key(created["id"])["name"] == "reader"
    assert created["id"] in {k["id"] for k in api.list_api_keys()}
    with Client(local_stack.url, created["key"]) as reader:
        assert isinstance(list(reader.list_sites()), list)
    assert api.revoke_api_key(created["id"]) == {}
    assert api.get_api_key(created["id"])["revoked"] is True


def test_dakkio_dialect(api: Client) -> None:
    bucket = api.create_bucket({"name": "home"})
    assert api.get_bucket(bucket["id"])["name"] == "home" and bucket["id"] in {b["id"] for b in api.list_buckets()}
    source = api.create_data_source(bucket["id"], {"name": "esp32", "schema": {"temperature": {"type": "number"}}})
    assert [s["id"] for s in api.list_data_sources(bucket["id"])] == [source["id"]]
    one = api.dakkio_ingest(
        bucket["id"],
        {"dataSourceId": source["id"], "timestamp": "2024-01-15T10:30:00Z", "values": {"temperature": 22.5}},
    )
    assert one["message"] == "Data point ingested successfully"
    points = [
        {"dataSourceId": source["id"], "timestamp": f"2024-01-16T{h:02d}:{m:02d}:00Z", "values": {"temperature": m}}
        for h in range(20)
        for m in range(60)
    ]  # 1,200 points: two batches of at most 1,000
    batch = api.dakkio_ingest_batch(bucket["id"], points)
    assert batch["count"] == 1_200 and batch["requests"] == 2
    stored = eventually(lambda: len(p := list(api.iter_dakkio_points(bucket["id"], limit=500))) == 1_201 and p, 30)
    assert stored and stored[0]["values"] == {"temperature": 22.5}
    with pytest.raises(BadRequest) as bad:  # the dialect's own error body, read into the same fields
        api.dakkio_ingest(bucket["id"], {"dataSourceId": source["id"], "values": {"temperature": "hot"}})
    assert bad.value.title == "Validation Error" and bad.value.errors[0]["path"] == "body/values/temperature"
    with pytest.raises(NotFound) as gone:
        api.dakkio_query("0" * 24)
    assert gone.value.detail == "Bucket not found"


def test_cloudthread_dialect(api: Client) -> None:
    stream = api.create_data_stream({"name": "costs"})
    assert stream["token"].startswith("ctds_") and stream["id"] in {s["id"] for s in api.list_data_streams()}
    name = f"users{time.monotonic_ns()}"
    items = [
        {
            "timestamp": f"2022-10-{1 + d:02d} {h:02d}:00:00",
            "metric_name": name,
            "metric_value": h,
            "custom_dimensions": {"p": "web"},
        }
        for d in range(10)
        for h in range(24)
    ]
    answer = api.cloudthread_ingest(stream["token"], "Sum", items)
    assert answer["ingested"] == 240
    listed = eventually(lambda: [m for m in api.list_stream_metrics()["items"] if m["metricName"] == name])
    assert listed and listed[0]["metricAggFunc"] == "Sum"
    daily = eventually(
        lambda: (
            (q := api.query_stream_metric(name, granularity="daily", start="2022-10-01", end="2022-10-11"))
            and [p["value"] for g in q["groups"] for p in g["points"]] == [sum(range(24))] * 10
            and q
        ),
        timeout=180,
    )
    assert daily and daily["metric_agg_func"] == "Sum"
    none = api.query_stream_metric(
        name, granularity="daily", start="2022-10-01", end="2022-10-11", filters={"p": ["app"]}
    )
    assert none["seriesMatched"] == 0 and none["filter"] == {"p": ["app"]}
    with pytest.raises(Unauthorized):
        api.cloudthread_ingest("ctds_" + "x" * 43, "Sum", items[:1])
    assert api.revoke_data_stream(stream["id"]) == {}


def test_ambiquality_dialect(api: Client) -> None:
    building = api.create_building({"name": "HQ"})
    assert api.get_building(building["id"])["name"] == "HQ"
    assert building["id"] in {b["id"] for b in api.list_buildings()}
    room = api.create_room(building["id"], {"name": "R1"})
    assert api.get_room(room["id"])["name"] == "R1" and [r["id"] for r in api.list_rooms(building["id"])] == [
        room["id"]
    ]
    sensor = api.create_sensor(room["id"], {"name": "s1", "parameters": ["co2", "temperature"]})
    sensor_id = sensor.get("sensorId") or sensor["id"]
    assert api.get_sensor(sensor_id)["name"] == "s1" and len(list(api.list_sensors(room["id"]))) == 1
    assert sensor["secretKey"].startswith("amq_sk_")
    key = api.rotate_sensor_key(sensor_id)["secretKey"]
    assert {p["code"] for p in api.list_parameters()["items"]} >= {"co2", "temperature"}
    accepted = api.send_measurements(
        key,
        sensor_id,
        [
            {"parameterCode": "co2", "value": 812, "unit": "ppm"},
            {"parameterCode": "temperature", "value": 21.4, "unit": "°C"},
        ],
    )
    assert "receivedAt" in accepted
    with pytest.raises(BadRequest.__mro__[1]) as refused:  # 422 (Unprocessable)
        api.send_measurements(key, sensor_id, [{"parameterCode": "co2", "value": 812, "unit": "ppb"}])
    assert refused.value.status == 422 and refused.value.type and "unit-mismatch" in refused.value.type
    assert api.update_sensor(sensor_id, {"name": "s1b"})["name"] == "s1b"


def test_the_async_client_speaks_the_same_api(local_stack: Any, api_key: str, setup: dict[str, Any]) -> None:
    async def scenario() -> tuple[dict[str, Any], list[dict[str, Any]]]:
        async with AsyncClient(local_stack.url, api_key) as client:
            soc = setup["soc"]["name"]
            start = T0 + 3 * 10**9
            frames = [{"timestamp": start + i, "metrics": {soc: 1}} for i in range(client_limits.MAX_FRAMES + 1)]
            summary = await client.send_frames(setup["thing"], frames)
            sites = [s async for s in client.list_sites(page_limit=1)]
            with pytest.raises(NotFound):
                await client.get_site("site_nope")
            return summary, sites

    summary, sites = asyncio.run(scenario())
    assert summary["framesIngested"] == client_limits.MAX_FRAMES + 1 and summary["requests"] == 2
    assert setup["site"]["id"] in {s["id"] for s in sites}
