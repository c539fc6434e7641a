"""template.yaml is the contract between AWS, the local stack and the code: check it both ways."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

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


@pytest.mark.parametrize("sample", sorted(p.name for p in (REPO / "events").glob("*.json")))
def test_sample_events_run_without_a_server_error(platform: Platform, sample: str) -> None:
    """Each sample, fed to its function as `sam local invoke -e` would: a well-formed answer.

    The samples name resources that do not exist, so most answers are 4xx; none may be 5xx."""
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
    assert 200 <= result["statusCode"] < 500, result
