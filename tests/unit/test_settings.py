"""Settings are parsed once from the environment and handed down by the composition root."""

from __future__ import annotations

import pytest
from telemetry.settings import Settings

from tests.fakes import in_memory_container


def test_defaults_are_the_documented_ones() -> None:
    s = Settings.from_env({})
    assert (s.reading_store, s.definitions_cache_ttl, s.dakkio_rate_burst, s.dakkio_rate_per_second) == (
        "dynamodb",
        30.0,
        100,
        10.0,
    )
    assert s.tracing_enabled and s.cold_start_metric and s.aws_endpoint_url is None


def test_the_environment_is_parsed() -> None:
    s = Settings.from_env(
        {
            "READING_STORE": "Timestream",
            "DAKKIO_RATE_BURST": "7",
            "DAKKIO_RATE_PER_SECOND": "0.5",
            "POWERTOOLS_TRACE_DISABLED": "true",
            "POWERTOOLS_METRICS_DISABLED": "1",
            "DEFINITIONS_CACHE_TTL": "5",
        }
    )
    assert (s.reading_store, s.dakkio_rate_burst, s.dakkio_rate_per_second, s.definitions_cache_ttl) == (
        "timestream",
        7,
        0.5,
        5.0,
    )
    assert not s.tracing_enabled and not s.cold_start_metric


def test_an_unknown_reading_store_fails_the_cold_start() -> None:
    with pytest.raises(ValueError, match="READING_STORE"):
        Settings.from_env({"READING_STORE": "postgres"})


def test_a_missing_required_setting_is_named() -> None:
    with pytest.raises(ValueError, match="READINGS_TABLE"):
        Settings().required("readings_table", "READINGS_TABLE")


def test_the_root_passes_the_settings_down() -> None:
    c = in_memory_container(Settings(dakkio_rate_burst=3, dakkio_rate_per_second=0.25, definitions_cache_ttl=1.5))
    assert (c.dakkio.rate_limit.burst, c.dakkio.rate_limit.per_second) == (3, 0.25)
    assert c.contexts.ttl == 1.5


@pytest.mark.parametrize(
    ("variable", "value"),
    [("DEFINITIONS_CACHE_TTL", "soon"), ("DAKKIO_RATE_BURST", "0"), ("DAKKIO_RATE_PER_SECOND", "nan")],
)
def test_a_bad_number_names_its_variable(variable: str, value: str) -> None:
    with pytest.raises(ValueError, match=variable):
        Settings.from_env({variable: value})


def test_readings_retention_is_org_days_pairs_and_refuses_anything_else() -> None:
    assert Settings.from_env({"READINGS_RETENTION": "org_a=90, *=400"}).readings_retention == (
        ("org_a", 90.0),
        ("*", 400.0),
    )
    assert Settings.from_env({}).readings_retention == ()
    for bad in ("org_a", "org_a=0", "=5", "org_a=soon"):
        with pytest.raises(ValueError, match="READINGS_RETENTION"):
            Settings.from_env({"READINGS_RETENTION": bad})
