"""`sam local invoke` readiness (issue 10, item 7), checked with the SAM CLI's own code.

`sam local invoke <Function> -e events/<x>.json --env-vars .devstack/sam-env.json` needs Docker,
which this machine lacks; what it would resolve before starting a container is checked instead,
by SAM's own providers (tests/build/sam_cli_view.py, run by the SAM CLI's python in `.venv-build`,
the only venv the SAM CLI may live in: it needs python3.12 and pins its own dependencies):

- every function's handler is a file and a callable under its CodeUri, its layers resolve to
  layers of the template with a code folder, and every variable it declares is in the
  `--env-vars` file the local stack writes (SAM overrides only declared variables, and passes the
  template's `!Ref DefinitionsTable`, i.e. the logical id, for the others);
- every event in events/ has the shape `sam local generate-event` produces for the kind of event
  its function receives (same keys, same JSON types; the free-form maps such as headers excepted).

Needs only `.venv-build` (`make build` installs it), not a build; ~15 s.
"""

from __future__ import annotations

import ast
import json
import os
import subprocess
from pathlib import Path
from typing import Any

import pytest
from devstack.rehearsal import SAM_PYTHON
from devstack.stack import SAM_ENV_FILE, LocalStack

REPO = Path(__file__).resolve().parents[2]
VIEW = Path(__file__).with_name("sam_cli_view.py")
#: what `--config-env local_start_api` (samconfig.toml) passes: declares AWS_ENDPOINT_URL
LOCAL_PARAMETERS = {"EndpointUrl": "http://host.docker.internal:5000"}

pytestmark = [
    pytest.mark.build,
    pytest.mark.skipif(not SAM_PYTHON.exists(), reason=f"no SAM CLI venv ({SAM_PYTHON}): run `make build` once"),
]


@pytest.fixture(scope="module")
def sam() -> dict[str, Any]:
    proc = subprocess.run(
        [str(SAM_PYTHON), str(VIEW), str(REPO / "template.yaml"), json.dumps(LOCAL_PARAMETERS)],
        capture_output=True,
        text=True,
        cwd=REPO,
        env={**os.environ, "SAM_CLI_TELEMETRY": "0"},
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    view: dict[str, Any] = json.loads(proc.stdout)
    return view


@pytest.fixture(scope="module")
def sam_env(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, str]]:
    """The file `make run` writes to .devstack/sam-env.json, from the real template's stack."""
    state_dir = tmp_path_factory.mktemp("devstack")
    with LocalStack(REPO / "template.yaml", state_dir=state_dir, pollers=False, schedules=False) as stack:
        written: dict[str, dict[str, str]] = json.loads((state_dir / SAM_ENV_FILE).read_text())
        assert written == stack.sam_env_vars()
        assert written["Parameters"]["DEFINITIONS_TABLE"] == stack.physical("DefinitionsTable")
    assert not (state_dir / SAM_ENV_FILE).exists(), "removed when its stack stops"
    return written


def _callables(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names = {n.name for n in tree.body if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef)}
    names |= {t.id for n in tree.body if isinstance(n, ast.Assign) for t in n.targets if isinstance(t, ast.Name)}
    names |= {a.asname or a.name for n in tree.body if isinstance(n, ast.ImportFrom) for a in n.names}
    return names


def test_sam_sees_every_function_of_the_template(sam: dict[str, Any]) -> None:
    from devstack.template import Template

    assert {f["id"] for f in sam["functions"]} == set(Template.load(REPO / "template.yaml").function_ids())


def test_every_handler_resolves_to_a_callable_under_its_code_uri(sam: dict[str, Any]) -> None:
    wrong = []
    for f in sam["functions"]:
        module, _, name = f["handler"].rpartition(".")
        path = REPO / f["codeuri"] / (module.replace(".", "/") + ".py")
        if f["runtime"] != "python3.12" or f["architectures"] != ["arm64"]:
            wrong.append(f"{f['id']}: {f['runtime']} {f['architectures']}")
        elif not path.is_file():
            wrong.append(f"{f['id']}: no {path.relative_to(REPO)}")
        elif name not in _callables(path):
            wrong.append(f"{f['id']}: {path.relative_to(REPO)} defines no {name}")
    assert not wrong, wrong


def test_every_layer_resolves_to_a_layer_of_the_template(sam: dict[str, Any]) -> None:
    wrong = []
    for f in sam["functions"]:
        names = [layer["name"] for layer in f["layers"]]
        if names[:2] != ["DomainLayer", "DependenciesLayer"]:
            wrong.append(f"{f['id']}: layers {names}")
        for layer in f["layers"]:
            if not layer["codeuri"] or not (REPO / layer["codeuri"] / "Makefile").is_file():
                wrong.append(
                    f"{f['id']}: layer {layer['name']} has no code folder with its Makefile ({layer['codeuri']})"
                )
    assert not wrong, wrong


def test_the_env_vars_file_has_every_variable_each_function_declares(
    sam: dict[str, Any], sam_env: dict[str, dict[str, str]]
) -> None:
    missing = {}
    for f in sam["functions"]:
        given = {**sam_env["Parameters"], **sam_env.get(f["id"], {})}
        own = set(sam_env.get(f["id"], {}))
        lacking = sorted(set(f["env"]) - set(given)) + sorted(set(f["env"]) - own - {"AWS_ENDPOINT_URL"})
        if lacking or "AWS_ENDPOINT_URL" not in f["env"]:
            missing[f["id"]] = lacking or ["AWS_ENDPOINT_URL is not declared: SAM would ignore the endpoint"]
    assert not missing, missing
    for f in sam["functions"]:
        assert sam_env[f["id"]]["AWS_ENDPOINT_URL"].startswith("http://host.docker.internal:")


# ----------------------------------------------------------------------------- events/

#: maps whose keys are the request's own (headers, query, path parameters), not the event's shape
FREE_FORM = {
    "headers",
    "multiValueHeaders",
    "queryStringParameters",
    "multiValueQueryStringParameters",
    "pathParameters",
    "stageVariables",
    "messageAttributes",
    "detail",
    "identity",
    "authorizer",
}


#: members API Gateway sends that the CLI's samples leave out (the REST API's Lambda proxy
#: integration input and REQUEST authorizer input, as AWS documents them), per event kind and path
REAL_EXTRAS: dict[str, dict[str, set[str]]] = {
    "api": {"$.requestContext": {"authorizer", "domainName", "domainPrefix", "extendedRequestId"}},
    "request-authorizer": {
        "$": {"multiValueHeaders", "multiValueQueryStringParameters"},
        "$.requestContext": {
            "domainName",
            "domainPrefix",
            "extendedRequestId",
            "protocol",
            "requestTime",
            "requestTimeEpoch",
        },
    },
}


def shape_differences(sample: Any, event: Any, path: str = "$", extras: dict[str, set[str]] | None = None) -> list[str]:
    """Where ``event`` has not the keys and JSON types of ``sample`` (a generated event); ``extras``:
    the members per path that real events carry beyond the sample."""
    extras = extras or {}
    if sample is None or event is None:
        return []  # optional members are null in real events too (queryStringParameters, body...)
    if type(sample) is not type(event) and not (isinstance(sample, int | float) and isinstance(event, int | float)):
        return [f"{path}: {type(event).__name__}, generated {type(sample).__name__}"]
    if isinstance(sample, list):
        return [d for item in event for d in shape_differences(sample[0], item, f"{path}[]", extras)] if sample else []
    if not isinstance(sample, dict) or path.rsplit(".", 1)[-1] in FREE_FORM:
        return []
    out = [f"{path}.{k}: missing" for k in sorted(set(sample) - set(event))]
    out += [f"{path}.{k}: not in a generated event" for k in sorted(set(event) - set(sample) - extras.get(path, set()))]
    common = sorted(set(sample) & set(event))
    return out + [d for k in common for d in shape_differences(sample[k], event[k], f"{path}.{k}", extras)]


def _event_kind(function: dict[str, Any]) -> str:
    kinds = {"Api": "api", "SQS": "sqs", "Schedule": "schedule", "ScheduleV2": "schedule"}
    found = {kinds[e] for e in function["events"] if e in kinds}
    if not function["events"] and function["id"] == "AuthorizerFunction":
        return "request-authorizer"  # the API's REQUEST authorizer (Auth.Authorizers, not an event)
    assert len(found) == 1, f"{function['id']}: events {function['events']}"
    return found.pop()


def test_every_event_file_has_the_shape_sam_generates(sam: dict[str, Any]) -> None:
    by_folder = {Path(f["codeuri"]).name: f for f in sam["functions"]}
    files = sorted((REPO / "events").glob("*.json"))
    assert files
    wrong: dict[str, Any] = {}
    for file in files:
        function = by_folder.get(file.stem)
        if function is None:
            wrong[file.name] = "names no function (events/<folder of functions/>.json)"
            continue
        kind = _event_kind(function)
        diffs = shape_differences(
            sam["events"][kind], json.loads(file.read_text(encoding="utf-8")), extras=REAL_EXTRAS.get(kind)
        )
        if diffs:
            wrong[file.name] = {kind: diffs}
    assert not wrong, json.dumps(wrong, indent=1)


def test_the_shape_check_fails_on_a_wrong_event(sam: dict[str, Any]) -> None:
    generated = sam["events"]["api"]
    assert shape_differences(generated, generated) == []
    broken = {k: v for k, v in generated.items() if k != "requestContext"} | {"body": {"not": "a string"}}
    assert shape_differences(generated, broken) == ["$.requestContext: missing", "$.body: dict, generated str"]
