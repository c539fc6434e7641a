"""template.yaml is the contract between AWS, the local stack and the code: check it both ways."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.integration.conftest import REPO, Platform


def test_cfn_lint_reports_nothing() -> None:
    result = subprocess.run(
        [str(Path(sys.executable).with_name("cfn-lint")), "template.yaml"], cwd=REPO, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_every_function_folder_is_deployed_and_every_function_has_code(platform: Platform) -> None:
    deployed = {spec.code_dir.resolve() for spec in platform.template.functions()}
    folders = {p.parent.resolve() for p in (REPO / "functions").glob("*/app.py")}
    assert folders - deployed == set(), "handler folders that no template function deploys"
    for spec in platform.template.functions():
        assert spec.module_file.is_file(), f"{spec.logical_id}: {spec.module_file} missing"
        assert callable(getattr(platform.functions[spec.logical_id].module, spec.handler_name))


def test_every_route_has_a_handler_route_and_every_handler_route_a_template_route(platform: Platform) -> None:
    template_routes = {(r.function_id, r.method, r.path) for r in platform.template.api_routes()}
    code_routes = set()
    for logical_id, function in platform.functions.items():
        app = getattr(function.module, "app", None)
        for route in [*getattr(app, "_static_routes", []), *getattr(app, "_dynamic_routes", [])]:
            code_routes.add((logical_id, route.method, re.sub(r"<(\w+)>", r"{\1}", route.path)))
    assert template_routes - code_routes == set(), "template routes no handler serves"
    assert code_routes - template_routes == set(), "handler routes the template does not expose"


def test_every_function_has_a_sample_event(platform: Platform) -> None:
    missing = [
        s.code_dir.name
        for s in platform.template.functions()
        if not (REPO / "events" / f"{s.code_dir.name}.json").is_file()
    ]
    assert missing == []


#: each sample's documented answer: the samples name resources that do not exist (a 404 on the
#: route), carry no real credential on the dialects that check their own (a 401), or create
#: something (201) or list (200). A change of status is a change of contract: update it here.
SAMPLE_STATUS: dict[str, int] = {
    **dict.fromkeys(
        ["amq_buildings_create", "api_keys_create", "ct_streams_create", "dk_buckets_create", "fleets_create", "metrics_create",
         "sites_create"],
        201,
    ),
    **dict.fromkeys(
        ["amq_buildings_list", "amq_parameters_list", "api_keys_list", "ct_metric_query", "ct_metrics_list", "ct_streams_list",
         "dk_buckets_list", "fleets_list", "intg_list", "metrics_list", "sites_list", "thing_types_list", "tmpl_list",
         "tmpl_transactions_list"],
        200,
    ),
    **dict.fromkeys(
        ["amq_measurements_ingest", "ct_ingest", "dk_data_batch", "dk_data_ingest", "dk_data_query", "integration_webhook"], 401
    ),
    # a create that names a metric that does not exist: a validation failure of the body
    **dict.fromkeys(["thing_types_create", "tmpl_create"], 400),
    # an integration naming a template that does not exist
    "intg_create": 400,
}  # fmt: skip


def _status_of(sample: str) -> int:
    return SAMPLE_STATUS.get(sample, 404)


def _headers(result: dict[str, Any]) -> dict[str, str]:
    out = {k.lower(): v for k, v in (result.get("headers") or {}).items()}
    for k, values in (result.get("multiValueHeaders") or {}).items():
        out.setdefault(k.lower(), values[0])
    return out


@pytest.mark.parametrize("sample", sorted(p.name for p in (REPO / "events").glob("*.json")))
def test_sample_events_answer_their_documented_status(platform: Platform, sample: str) -> None:
    """Each sample, fed to its function as `sam local invoke -e` would: its documented status, and
    a refusal in the route's documented error shape (problem+json, or {error, message} on /api/data)."""
    by_folder = {s.code_dir.name: s.logical_id for s in platform.template.functions()}
    function = platform.functions[by_folder[sample.removesuffix(".json")]]
    event = json.loads((REPO / "events" / sample).read_text())
    if event.get("type") == "REQUEST":  # the authorizer: the sample key is not a real key
        with pytest.raises(Exception, match=r"^Unauthorized$"):
            function.invoke(event)
        return
    result = function.invoke(event)
    if "Records" in event:
        assert result == {"batchItemFailures": []}
        return
    name = sample.removesuffix(".json")
    assert result["statusCode"] == _status_of(name), result
    body = json.loads(result["body"]) if result.get("body") else None
    if result["statusCode"] < 400:
        assert isinstance(body, dict | list), result
        return
    content_type = _headers(result).get("content-type", "")
    assert isinstance(body, dict), result
    if event["path"].startswith("/api/data"):  # dakkio's data routes keep dakkio's error body
        assert content_type.startswith("application/json"), result
        assert isinstance(body.get("error"), str) and isinstance(body.get("message"), str), body
    else:
        assert content_type.startswith("application/problem+json"), result
        assert body["status"] == result["statusCode"] and body["title"] and body["type"], body
        assert isinstance(body.get("detail"), str), body


def test_every_sample_status_names_a_sample() -> None:
    samples = {p.stem for p in (REPO / "events").glob("*.json")}
    assert set(SAMPLE_STATUS) - samples == set()
