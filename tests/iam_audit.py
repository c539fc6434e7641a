"""Least privilege, proven: every AWS call each function makes in the suite, against its policy.

A pytest plugin (its hooks are re-exported by tests/conftest.py). While the tests run, a botocore
``before-parameter-build`` hook, registered on every botocore session (as moto registers its own
``before-send`` stub), records each API call a Lambda handler makes: the local runtime sets
:data:`devstack.lambdas.CURRENT_FUNCTION` around every invocation, so a call is attributed to the
function whose handler is running; calls made by the tests themselves, the local stack or the
event source pollers (which on AWS the Lambda service makes, under the managed execution-role
policies) are not attributed and not recorded. ``before-parameter-build`` rather than
``before-call``: it carries the API parameters as the code passed them (``before-call`` gets the
serialized HTTP request).

Each call becomes the IAM action(s) and resource ARN(s) AWS would authorize (an SQS
``SendMessageBatch`` is ``sqs:SendMessage``, a Timestream ``Query`` is ``timestream:Select``, a
DynamoDB ``TransactWriteItems`` is one ``PutItem``/``UpdateItem``/... per item on its table), with
the stack's physical names replaced by those of one canonical stack, so calls from the many stacks
the suite starts compare with one expansion of the template. Each worker writes its calls to
``$TELEMETRY_IAM_AUDIT_DIR``; the controller's ``pytest_sessionfinish`` reads them all and fails the
run (exit status 1, the report in the terminal summary):

- when a call is not allowed by the calling function's policy, as template.yaml declares it
  (inline statements, ``!If`` conditions evaluated with the stack's parameters), always;
- when an action the policy grants on a resource is never used by that function, only after a run
  of the whole integration and e2e suites (every test module of both selected, no ``-k``, all
  passed): a partial run proves nothing about what is unused. The parameter sets no test stack
  runs (ReadingStoreBackend=timestream: moto cannot run Timestream SQL, so no function runs on that
  backend locally; the adapter's own tests cover it) are not checked for unused grants.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import tempfile
import threading
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import pytest

T = TypeVar("T")

REPO = Path(__file__).resolve().parents[1]
TEMPLATE = REPO / "template.yaml"
DIR_ENV = "TELEMETRY_IAM_AUDIT_DIR"
#: the stack whose (placeholder) names every recorded resource is expressed in
CANONICAL_STACK = "iam-audit"
REGION, ACCOUNT = "us-east-1", "123456789012"
#: the suites whose full run proves an unused grant unused
FULL_RUN_SUITES = ("tests/integration", "tests/e2e")

#: granted actions no flow of the suites reaches, each with the reason: fall-backs and compensations
#: for failures of AWS itself, which moto does not produce
UNUSED_ALLOWED: dict[tuple[str, str], str] = {
    ("IntgCreateFunction", "secretsmanager:DeleteSecret"): (
        "catalog.create deletes the credentials it just stored when the schedule cannot be created"
    ),
    ("IntgCreateFunction", "secretsmanager:PutSecretValue"): (
        "SecretsManagerStore.put falls back to it when CreateSecret finds the name taken (a create retried)"
    ),
    ("IntgCreateFunction", "scheduler:UpdateSchedule"): (
        "EventBridgeScheduler.upsert falls back to it on ConflictException (a create retried)"
    ),
}


@dataclass(frozen=True, order=True)
class Call:
    """One authorization AWS would make for a function's API call."""

    function: str
    parameters: str  # the stack's template parameters (JSON): which expansion of the policies applies
    action: str
    resource: str


# --------------------------------------------------------------------------- calls -> IAM requests

_SQS_BATCH = {"SendMessageBatch": "SendMessage", "DeleteMessageBatch": "DeleteMessage"}
_SQS_BATCH["ChangeMessageVisibilityBatch"] = "ChangeMessageVisibility"
_TRANSACT_WRITE = {
    "Put": "PutItem",
    "Update": "UpdateItem",
    "Delete": "DeleteItem",
    "ConditionCheck": "ConditionCheckItem",
}
_TIMESTREAM_FROM = re.compile(r'"([^"]+)"\s*\.\s*"([^"]+)"')


def _table(name: str, index: str | None = None) -> str:
    arn = f"arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/{name}"
    return f"{arn}/index/{index}" if index else arn


def iam_requests(
    service: str, operation: str, params: Mapping[str, Any], names: Mapping[str, str]
) -> list[tuple[str, str]]:
    """The (action, resource ARN) pairs IAM authorizes for one call; ``names`` maps physical names
    of the calling stack to the canonical stack's."""

    def n(value: str) -> str:
        return names.get(value, value)

    if service == "dynamodb":
        if operation == "TransactWriteItems":
            return [
                (f"dynamodb:{_TRANSACT_WRITE[kind]}", _table(n(body["TableName"])))
                for item in params.get("TransactItems", [])
                for kind, body in item.items()
            ]
        if operation == "TransactGetItems":
            return [
                ("dynamodb:GetItem", _table(n(item["Get"]["TableName"]))) for item in params.get("TransactItems", [])
            ]
        if operation in ("BatchWriteItem", "BatchGetItem"):
            return [(f"dynamodb:{operation}", _table(n(t))) for t in params.get("RequestItems", {})]
        return [(f"dynamodb:{operation}", _table(n(params["TableName"]), params.get("IndexName")))]
    if service == "sqs":
        url = str(params.get("QueueUrl") or params.get("QueueName", ""))
        name = n(url.rstrip("/").rsplit("/", 1)[-1])
        return [(f"sqs:{_SQS_BATCH.get(operation, operation)}", f"arn:aws:sqs:{REGION}:{ACCOUNT}:{name}")]
    if service == "secretsmanager":
        secret = str(params.get("SecretId") or params.get("Name"))
        arn = secret if secret.startswith("arn:") else f"arn:aws:secretsmanager:{REGION}:{ACCOUNT}:secret:{secret}"
        return [(f"secretsmanager:{operation}", arn)]
    if service == "scheduler":
        group = n(str(params.get("GroupName") or "default"))
        out = [
            (f"scheduler:{operation}", f"arn:aws:scheduler:{REGION}:{ACCOUNT}:schedule/{group}/{params.get('Name')}")
        ]
        role = (params.get("Target") or {}).get("RoleArn")
        if role:  # handing the schedule a role is iam:PassRole on it
            out.append(("iam:PassRole", n(role)))
        return out
    if service in ("timestream-write", "timestream-query"):
        if operation == "DescribeEndpoints":  # IAM has no resource for it: "*"
            return [("timestream:DescribeEndpoints", "*")]
        if operation == "Query":  # Timestream authorizes a query as Select on each table it reads
            tables = _TIMESTREAM_FROM.findall(str(params.get("QueryString", "")))
            return [
                ("timestream:Select", f"arn:aws:timestream:{REGION}:{ACCOUNT}:database/{n(db)}/table/{n(t)}")
                for db, t in tables
            ]
        db, table = n(str(params.get("DatabaseName"))), params.get("TableName")
        arn = f"arn:aws:timestream:{REGION}:{ACCOUNT}:database/{db}"
        return [(f"timestream:{operation}", f"{arn}/table/{n(str(table))}" if table else arn)]
    return [(f"{service}:{operation}", "*")]


def canonical_names(template: Any) -> dict[str, str]:
    """Physical name/URL/ARN of each resource of a bound local ``template`` -> the canonical stack's."""
    from devstack.template import Template

    canonical = Template(template.data, root=template.root, parameters=template.parameters, stack_name=CANONICAL_STACK)
    names: dict[str, str] = {}
    for logical_id, bound in template.physical.items():
        placeholder = canonical.physical_resource(logical_id)
        names[bound.ref] = placeholder.ref
        for key, value in bound.attributes.items():
            names[value] = placeholder.attributes.get(key, value)
    # a queue's placeholder has a name and URL; a role's, schedule group's or Timestream resource's
    # a name, which is what the canonical policy's ARNs are made of
    for logical_id, bound in template.physical.items():
        if "|" in bound.ref:  # a Timestream table's ref is "<database>|<table>"
            names[bound.attributes.get("Name", "")] = canonical.physical_resource(logical_id).attributes["Name"]
    return names


# --------------------------------------------------------------------------- the template's policies


class PolicyTemplateNotExpanded(Exception):
    """A SAM policy template (``DynamoDBCrudPolicy``...): the audit wants inline statements."""


def function_policies(parameters: Mapping[str, str], template_path: Path = TEMPLATE) -> dict[str, list[dict[str, Any]]]:
    """Each function's inline policy statements, resolved (``!If`` evaluated) for ``parameters``.

    AWS managed policies named by ARN (none today) and SAM's own additions (the basic execution,
    X-Ray and SQS-polling managed policies) are for the Lambda service, not the function's code,
    and are not returned. A SAM policy template raises: its expansion grants more than the code
    calls, which is what this audit exists to prevent.
    """
    from devstack.template import Template

    template = Template.load(template_path, parameters=dict(parameters), stack_name=CANONICAL_STACK)
    out: dict[str, list[dict[str, Any]]] = {}
    for logical_id in template.function_ids():
        statements: list[dict[str, Any]] = []
        for policy in template.resolve(template.function_properties(logical_id).get("Policies") or []):
            if isinstance(policy, str):
                continue
            if set(policy) - {"Statement", "Version"}:
                raise PolicyTemplateNotExpanded(
                    f"{logical_id}: policy template {sorted(policy)}; write the statements inline"
                )
            doc = policy["Statement"]
            statements += doc if isinstance(doc, list) else [doc]
        out[logical_id] = statements
    return out


def _listed(value: Any) -> list[str]:
    return [str(v) for v in (value if isinstance(value, list) else [value])]


def allowed(statements: list[dict[str, Any]], action: str, resource: str) -> bool:
    """IAM's verdict for one request against these statements (moto's evaluator: Allow, Deny, wildcards)."""
    from moto.iam.access_control import IAMPolicy, PermissionResult

    document = json.dumps({"Version": "2012-10-17", "Statement": statements})
    return IAMPolicy({"policy_document": document}).is_action_permitted(action, resource) == PermissionResult.PERMITTED


def grants(statements: list[dict[str, Any]]) -> Iterator[tuple[str, str]]:
    """Every (action, resource pattern) the Allow statements grant."""
    for statement in statements:
        if statement.get("Effect") == "Allow":
            for action in _listed(statement.get("Action")):
                for resource in _listed(statement.get("Resource", "*")):
                    yield action, resource


def _matches(pattern: str, value: str) -> bool:
    return allowed([{"Effect": "Allow", "Action": "*", "Resource": pattern}], "x:y", value)


@dataclass
class Verdict:
    not_allowed: list[Call]
    unused: list[tuple[str, str, str, str]]  # function, parameters, action, resource pattern

    @property
    def ok(self) -> bool:
        return not self.not_allowed and not self.unused

    def report(self) -> str:
        def stack(parameters: str) -> str:
            return f"(a stack with ReadingStoreBackend={json.loads(parameters).get('ReadingStoreBackend', '?')})"

        lines = [
            f"NOT ALLOWED {c.function}: {c.action} on {c.resource} {stack(c.parameters)}" for c in self.not_allowed
        ]
        lines += [f"UNUSED GRANT {fn}: {action} on {res} {stack(params)}" for fn, params, action, res in self.unused]
        return "\n".join(lines)


def audit(calls: Iterable[Call], *, check_unused: bool, template_path: Path = TEMPLATE) -> Verdict:
    """Compare recorded calls with each function's policy (see the module docstring)."""
    by_key: dict[tuple[str, str], set[tuple[str, str]]] = defaultdict(set)
    for call in calls:
        by_key[(call.function, call.parameters)].add((call.action, call.resource))
    expansions: dict[str, dict[str, list[dict[str, Any]]]] = {}
    not_allowed: list[Call] = []
    for (function, parameters), requests in sorted(by_key.items()):
        if parameters not in expansions:
            expansions[parameters] = function_policies(json.loads(parameters), template_path)
        statements = expansions[parameters].get(function, [])
        for action, resource in sorted(requests):
            if not allowed(statements, action, resource):
                not_allowed.append(Call(function, parameters, action, resource))
    unused: list[tuple[str, str, str, str]] = []
    if check_unused:
        for parameters, policies in expansions.items():
            for function, statements in sorted(policies.items()):
                used = by_key.get((function, parameters), set())
                for action, pattern in grants(statements):
                    if (function, action) in UNUSED_ALLOWED:
                        continue
                    if not any(_matches(action, a) and _matches(pattern, r) for a, r in used):
                        unused.append((function, parameters, action, pattern))
    return Verdict(not_allowed, unused)


# --------------------------------------------------------------------------- recording


class Recorder:
    """Collects this process's attributed calls; thread-safe (handlers run in gateway threads)."""

    def __init__(self) -> None:
        self.calls: set[Call] = set()
        self._lock = threading.Lock()
        #: id(template) -> (the template, its names, its parameters). The template is kept so its id
        #: cannot be reused: each integration module builds its own stack (new table names), and a
        #: collected template's id given to the next one mapped that stack's calls to the old names
        self._names: dict[int, tuple[Any, dict[str, str], str]] = {}

    def _stack(self, template: Any) -> tuple[dict[str, str], str]:
        key = id(template)
        if key not in self._names or self._names[key][0] is not template:
            params = json.dumps(dict(template.parameters), sort_keys=True)
            self._names[key] = (template, canonical_names(template), params)
        _, names, parameters = self._names[key]
        return names, parameters

    def __call__(self, params: Mapping[str, Any], model: Any, **_: Any) -> None:
        from devstack.lambdas import CURRENT_FUNCTION

        function = CURRENT_FUNCTION.get()
        if function is None or function.template is None:
            return
        with self._lock:
            names, parameters = self._stack(function.template)
            for action, resource in iam_requests(model.service_model.service_name, model.name, params, names):
                self.calls.add(Call(function.logical_id, parameters, action, resource))


RECORDER = Recorder()


def install(recorder: Recorder = RECORDER) -> None:
    """Register the recorder on every botocore session made from now on (and boto3's default)."""
    import boto3
    import botocore.handlers

    entry = ("before-parameter-build", recorder)
    if entry not in botocore.handlers.BUILTIN_HANDLERS:
        botocore.handlers.BUILTIN_HANDLERS.append(entry)
    if boto3.DEFAULT_SESSION is not None:
        boto3.DEFAULT_SESSION.events.register("before-parameter-build", recorder)


def write(directory: Path, name: str, observed: Iterable[Any], selected: Iterable[str]) -> None:
    """One process's observations (dataclass instances) and selected test modules, for the
    controller to merge (shared by this audit and tests/status_audit.py)."""
    payload = {"observed": [o.__dict__ for o in sorted(observed)], "selected": sorted(set(selected))}
    (directory / f"{name}.json").write_text(json.dumps(payload), encoding="utf-8")


def read(directory: Path, kind: Callable[..., T]) -> tuple[set[T], set[str]]:
    """Every process's observations, each rebuilt as ``kind(**fields)``, and the selected modules."""
    observed: set[T] = set()
    selected: set[str] = set()
    for path in directory.glob("*.json"):
        payload = json.loads(path.read_text(encoding="utf-8"))
        observed |= {kind(**o) for o in payload["observed"]}
        selected |= set(payload["selected"])
    return observed, selected


def full_run(selected: set[str], config: pytest.Config, suites: Iterable[str] = FULL_RUN_SUITES) -> bool:
    """Every test module of ``suites`` ran, unfiltered by ``-k``."""
    if config.getoption("keyword", ""):
        return False
    modules = {p.relative_to(REPO).as_posix() for suite in suites for p in (REPO / suite).rglob("test_*.py")}
    return modules <= selected


# --------------------------------------------------------------------------- pytest hooks


def pytest_configure(config: pytest.Config) -> None:
    if not hasattr(config, "workerinput") and DIR_ENV not in os.environ:
        # the controller (or a run without xdist): workers inherit the variable
        os.environ[DIR_ENV] = tempfile.mkdtemp(prefix="iam-audit-")
        config.stash[_OWNS_DIR] = True
    install()


_OWNS_DIR = pytest.StashKey[bool]()
_SELECTED = pytest.StashKey[set[str]]()
_VERDICT = pytest.StashKey[Verdict]()


def pytest_collection_finish(session: pytest.Session) -> None:
    session.config.stash[_SELECTED] = {item.nodeid.split("::", 1)[0] for item in session.items}


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    if not os.environ.get(DIR_ENV) or not Path(os.environ[DIR_ENV]).is_dir():
        return
    directory = Path(os.environ[DIR_ENV])
    config = session.config
    name = config.workerinput["workerid"] if hasattr(config, "workerinput") else "main"
    selected: set[str] = config.stash.get(_SELECTED, set())
    write(directory, name, RECORDER.calls, selected)
    if hasattr(config, "workerinput"):
        return
    calls, selected = read(directory, Call)
    if not calls:
        return
    check_unused = exitstatus == 0 and full_run(selected, config)
    verdict = audit(calls, check_unused=check_unused)
    config.stash[_VERDICT] = verdict
    if config.stash.get(_OWNS_DIR, False):
        shutil.rmtree(directory, ignore_errors=True)
    if not verdict.ok:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


def pytest_terminal_summary(terminalreporter: Any, config: pytest.Config) -> None:
    verdict = config.stash.get(_VERDICT, None)
    if verdict is None:
        return
    if verdict.ok:
        terminalreporter.write_line("iam audit: every AWS call of every function is allowed by its policy")
        return
    terminalreporter.section("iam audit (tests/iam_audit.py): policies against recorded AWS calls", red=True)
    terminalreporter.write_line(verdict.report())
