"""The parameter catalog and the platform definitions behind it."""

from __future__ import annotations

import threading

from telemetry.bootstrap.ambiquality import AmbiqualityServices
from telemetry.models.ambiquality import CATALOG, PARAMETERS
from telemetry.models.metrics import Aggregation, DataType, MetricCreate
from telemetry.services.ambiquality.catalog import catalog_parameters

from .conftest import World


def test_catalog_has_the_documented_parameters_with_exact_unit_strings() -> None:
    units = {p.code: p.unit for p in CATALOG}
    assert units == {
        "co2": "ppm",
        "temperature": "\u00b0C",
        "humidity": "%",
        "pm2_5": "\u00b5g/m\u00b3",
        "pm10": "\u00b5g/m\u00b3",
        "voc": "ppb",
        "noise": "dB(A)",
        "pressure": "hPa",
    }
    for p in CATALOG:
        assert p.min < p.max


def test_served_catalog_lists_code_unit_range_and_type() -> None:
    served = {p["code"]: p for p in catalog_parameters()}
    assert served["co2"]["range"] == {"min": 0, "max": 10_000}
    assert served["pressure"]["range"] == {"min": 300, "max": 1_100}
    assert all(p["dataType"] == "number" for p in served.values())
    assert served["voc"]["metricName"] == "amq.voc"


def test_first_sensor_creates_one_metric_per_parameter_and_one_thing_type(world: World) -> None:
    sensor = world.sensor()
    metrics = world.c.metrics.list(world.principal, 100, None).items
    by_name = {m.name: m for m in metrics}
    assert set(by_name) == {f"amq.{p.code}" for p in CATALOG}
    co2 = by_name["amq.co2"]
    assert co2.dataType is DataType.Double
    assert co2.unitLabel == "ppm"
    assert co2.defaultAggregation is Aggregation.Avg
    assert co2.validRange is not None and (co2.validRange.min, co2.validRange.max) == (0, 10_000)
    thing = world.c.things.get(world.principal, sensor.thingId)
    assert thing.properties == {"sensorId": sensor.id, "roomId": sensor.roomId, "buildingId": sensor.buildingId}
    types = world.c.thing_types.list(world.principal, 100, None).items
    assert [t.displayName for t in types] == ["Ambiquality sensor"]


def test_second_sensor_and_a_fresh_process_reuse_the_catalog(world: World) -> None:
    first = world.sensor()
    second = world.sensor(["humidity"])
    third = AmbiqualityServices(world.c).catalog.ensure(world.principal.org_id)  # a new process: empty cache
    record1 = world.s.repo.get_sensor(world.principal.org_id, first.id)
    record2 = world.s.repo.get_sensor(world.principal.org_id, second.id)
    assert record1 and record2
    assert record1[0].metricIds == record2[0].metricIds == third.metricIds
    assert len(world.c.metrics.list(world.principal, 100, None).items) == len(CATALOG)


def test_an_existing_metric_with_the_reserved_name_is_adopted(world: World) -> None:
    existing = world.c.metrics.create(
        world.principal,
        MetricCreate(name="amq.co2", dataType=DataType.Double, defaultAggregation=Aggregation.Avg),
    )
    catalog = world.s.catalog.ensure(world.principal.org_id)
    assert catalog.metricIds["co2"] == existing.id


def test_concurrent_provisioning_yields_one_catalog(world: World) -> None:
    results = []
    barrier = threading.Barrier(4)

    def provision() -> None:
        services = AmbiqualityServices(world.c)
        barrier.wait()
        results.append(services.catalog.ensure(world.principal.org_id))

    threads = [threading.Thread(target=provision) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len({r.thingTypeId for r in results}) == 1
    assert len({tuple(sorted(r.metricIds.items())) for r in results}) == 1
    assert len(world.c.metrics.list(world.principal, 100, None).items) == len(CATALOG)


def test_catalogs_are_per_organization(world: World) -> None:
    other = world.principal_for("other-org")
    mine = world.s.catalog.ensure(world.principal.org_id)
    theirs = world.s.catalog.ensure(other.org_id)
    assert set(mine.metricIds.values()).isdisjoint(theirs.metricIds.values())
    assert PARAMETERS.keys() == mine.metricIds.keys()
