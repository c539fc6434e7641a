"""The handlers' shared Metrics do not depend on when ``telemetry.http.app`` was imported.

Imported before the environment is set (a pytest process that starts the local stack), the
namespace was None; with metrics disabled the set was never cleared, so every 100th
``FramesAccepted`` serialized it and the ingest answered 500 "Must contain a metric namespace".
Both tests fail on the old code (plain powertools ``Metrics()``).
"""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from aws_lambda_powertools.metrics import MetricUnit
from telemetry.http.app import metrics
from telemetry.settings import settings


@pytest.fixture
def imported_without_namespace(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setattr(metrics, "namespace", None)  # what Metrics() read from an unset environment
    monkeypatch.delenv("POWERTOOLS_METRICS_NAMESPACE", raising=False)
    metrics.clear_metrics()
    yield
    metrics.clear_metrics()
    settings.cache_clear()


@pytest.mark.usefixtures("imported_without_namespace")
def test_disabled_metrics_never_fail_however_many_are_added(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("POWERTOOLS_METRICS_DISABLED", "true")
    for _ in range(250):
        metrics.add_metric(name="FramesAccepted", unit=MetricUnit.Count, value=2)
    assert metrics.metric_set == {}


@pytest.mark.usefixtures("imported_without_namespace")
def test_the_namespace_set_after_the_import_is_used(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("POWERTOOLS_METRICS_DISABLED", "false")
    monkeypatch.setenv("POWERTOOLS_METRICS_NAMESPACE", "TelemetryPlatform")
    settings.cache_clear()  # as container() does on its first use
    for _ in range(100):  # the 100th value publishes the set
        metrics.add_metric(name="FramesAccepted", unit=MetricUnit.Count, value=1)
    emf = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert emf["_aws"]["CloudWatchMetrics"][0]["Namespace"] == "TelemetryPlatform"
    assert emf["FramesAccepted"] == [1.0] * 100
