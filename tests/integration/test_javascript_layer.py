"""The JavaScript layer (mini-racer) is only in the functions that compile or run a script.

template.yaml gives `JavaScriptLayer` to five template functions; every other function must work
without `py_mini_racer` importable, as on AWS. Blocking the module (``sys.modules[name] = None``
makes every import of it fail) shows both sides: the functions without the layer never need it,
and those with it do.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from devstack.template import load_yaml

from tests import status_audit
from tests.integration.conftest import REPO, Platform
from tests.integration.test_templates_api import Org

JAVASCRIPT_FUNCTIONS = {"tmpl_create", "tmpl_update", "tmpl_test", "tmpl_apply", "tmpl_transactions_apply"}


def _layers_by_folder() -> dict[str, list[str]]:
    resources = load_yaml((REPO / "template.yaml").read_text())["Resources"]
    return {
        res["Properties"]["CodeUri"].strip("/").split("/")[-1]: [x["Ref"] for x in res["Properties"].get("Layers", [])]
        for res in resources.values()
        if res["Type"] == "AWS::Serverless::Function"
    }


def test_only_the_five_script_functions_add_the_javascript_layer() -> None:
    with_js = {folder for folder, layers in _layers_by_folder().items() if "JavaScriptLayer" in layers}
    assert with_js == JAVASCRIPT_FUNCTIONS


def test_no_function_without_the_layer_imports_py_mini_racer_when_loaded() -> None:
    # Given every other function's module, loaded in a fresh interpreter where py_mini_racer cannot be imported
    others = sorted(set(_layers_by_folder()) - JAVASCRIPT_FUNCTIONS)
    code = (
        "import importlib.util, sys, json\n"
        "sys.modules['py_mini_racer'] = None\n"
        "for name in json.loads(sys.argv[1]):\n"
        "    spec = importlib.util.spec_from_file_location('fn_' + name, f'functions/{name}/app.py')\n"
        "    module = importlib.util.module_from_spec(spec)\n"
        "    spec.loader.exec_module(module)\n"
        "print(len(json.loads(sys.argv[1])))\n"
    )
    env = {"POWERTOOLS_TRACE_DISABLED": "true", "AWS_DEFAULT_REGION": "us-east-1", "DEFINITIONS_TABLE": "x"}
    # this tree's domain layer, not whichever one the interpreter's editable install points at
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO / "layers" / "domain"), os.environ.get("PYTHONPATH")]))
    done = subprocess.run(
        [sys.executable, "-c", code, json.dumps(others)],
        cwd=REPO,
        capture_output=True,
        text=True,
        env={**os.environ, **env},
    )
    # Then each one loads
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip() == str(len(others))


@pytest.fixture(scope="module")
def acme(platform: Platform) -> Org:
    return Org(platform, "acme-javascript-layer")


def test_reading_listing_and_deleting_a_javascript_template_needs_no_v8(
    platform: Platform, acme: Org, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a JavaScript template (created by tmpl_create, which has the layer)
    spec = {"source": "function handler(p) { return []; }", "metricIds": [acme.m["voltage"]]}
    js = acme.ok(
        "POST", "/v2/templates", {"name": "js", "target": "ThingData", "format": "JavaScriptHandler", "spec": spec}
    )
    # When py_mini_racer cannot be imported, as in every function without the layer
    monkeypatch.setitem(sys.modules, "py_mini_racer", None)
    # Then tmpl_get, tmpl_list, tmpl_transactions_list and tmpl_delete still answer
    assert acme.ok("GET", f"/v2/templates/{js['id']}")["format"] == "JavaScriptHandler"
    assert js["id"] in {t["id"] for t in acme.ok("GET", "/v2/templates")["items"]}
    assert acme.ok("GET", "/v2/transactions", type="charge")["transactions"] == []
    # And the functions with the layer do need it: applying the script without V8 fails
    with status_audit.RECORDER.unrecorded():  # a broken deployment on purpose, not a documented answer
        assert acme.call("POST", f"/v2/templates/{js['id']}/test", {}).status == 500
    assert acme.ok("DELETE", f"/v2/templates/{js['id']}")["id"] == js["id"]
