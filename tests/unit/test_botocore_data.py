"""telemetry.adapters.botocore_data: botocore's data loader without the service scan and with
orjson, loading exactly what the stock loader loads (docs/performance.md, "Cold start")."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import UnknownServiceError
from botocore.loaders import Loader, create_loader
from telemetry.adapters import aws_clients, botocore_data

#: every service an adapter creates a client for (adapters/*: aws_client("..."))
SERVICES = ("dynamodb", "sqs", "scheduler", "secretsmanager", "timestream-query", "timestream-write")
TYPES = ("service-2", "endpoint-rule-set-1", "paginators-1", "waiters-2")


def _no_scan(*_: Any) -> list[str]:
    raise AssertionError("listed every service")


@pytest.mark.parametrize("service", SERVICES)
def test_every_model_an_adapter_loads_is_the_stock_loaders(service: str) -> None:
    stock, ours = create_loader(None), botocore_data.create_loader(None)
    for type_name in TYPES:
        try:
            expected = stock.load_service_model(service, type_name)
        except Exception as exc:  # e.g. a service without waiters: the same error
            with pytest.raises(type(exc)):
                ours.load_service_model(service, type_name)
            continue
        assert ours.load_service_model(service, type_name) == expected, type_name


def test_endpoints_partitions_and_retry_rules_are_the_stock_loaders() -> None:
    stock, ours = create_loader(None), botocore_data.create_loader(None)
    for name in ("endpoints", "partitions", "_retry", "sdk-default-configuration"):
        assert ours.load_data_with_path(name) == stock.load_data_with_path(name), name


def test_a_known_service_loads_without_listing_every_service(monkeypatch: pytest.MonkeyPatch) -> None:
    loader = botocore_data.create_loader(None)
    monkeypatch.setattr(loader, "list_available_services", _no_scan)
    assert loader.load_service_model("dynamodb", "service-2")["metadata"]["endpointPrefix"] == "dynamodb"
    assert loader.load_service_model("sqs", "endpoint-rule-set-1", "2012-11-05")["version"]
    stock = create_loader(None)
    monkeypatch.setattr(stock, "list_available_services", _no_scan)
    with pytest.raises(AssertionError, match="listed every service"):  # what the stock loader does
        stock.load_service_model("dynamodb", "service-2")


def test_an_unknown_service_is_refused_as_the_stock_loader_refuses_it() -> None:
    errors = []
    for loader in (create_loader(None), botocore_data.create_loader(None)):
        with pytest.raises(UnknownServiceError) as caught:
            loader.load_service_model("no-such-service", "service-2")
        errors.append(str(caught.value))
    assert errors[0] == errors[1]
    assert "dynamodb" in errors[1]  # the full list, as botocore gives it


def test_the_data_path_setting_comes_first_and_orjson_refusals_load_as_the_stdlib_loads(tmp_path: Path) -> None:
    model = tmp_path / "dynamodb" / "2012-08-10"
    model.mkdir(parents=True)
    # orjson refuses NaN and a number beyond 64 bits; the stdlib parser (botocore's) reads both
    (model / "service-2.json").write_text('{"metadata": {"big": 18446744073709551616, "nan": NaN}, "shapes": {}}')
    (model / "waiters-2.json").write_text(json.dumps({"version": 2, "waiters": {}}))
    ours = botocore_data.create_loader(str(tmp_path))
    assert ours.search_paths[0] == str(tmp_path)
    got = ours.load_service_model("dynamodb", "service-2")
    assert got["metadata"]["big"] == 2**64 and got["metadata"]["nan"] != got["metadata"]["nan"]
    assert ours.load_service_model("dynamodb", "waiters-2") == {"version": 2, "waiters": {}}


def test_the_shared_session_loads_through_it() -> None:
    with aws_clients.CLIENT_LOCK:
        saved, aws_clients._session = aws_clients._session, None
    try:
        client = aws_clients.aws_client(
            "dynamodb", region_name="eu-west-1", aws_access_key_id="x", aws_secret_access_key="y"
        )
        loader = aws_clients._session.get_component("data_loader")
        assert type(loader) is botocore_data.ServiceLoader and isinstance(loader, Loader)
        assert type(loader.file_loader) is botocore_data.OrjsonFileLoader
        assert client.meta.service_model.service_name == "dynamodb"
    finally:
        with aws_clients.CLIENT_LOCK:
            aws_clients._session = saved
