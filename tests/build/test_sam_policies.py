"""The least-privilege audit reads each function's policy as SAM would expand it (issue 10, item 4).

tests/iam_audit.py reads the statements from template.yaml itself (the project's venv has no SAM
translator: aws-sam-translator pins an older pydantic than the runtime's). This checks, with the
translator of the SAM CLI's venv, that the role SAM generates for each function carries exactly
those statements, for both backends, and only the managed policies the Lambda service needs.

Needs only `.venv-build` (`make build` installs it), not a build; ~20 s.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from devstack.rehearsal import SAM_PYTHON, translate
from devstack.template import Template, load_yaml

from tests.iam_audit import CANONICAL_STACK, function_policies

REPO = Path(__file__).resolve().parents[2]
MANAGED = {
    "arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole",
    "arn:aws:iam::aws:policy/AWSXrayWriteOnlyAccess",
}
SQS_POLLING = "arn:aws:iam::aws:policy/service-role/AWSLambdaSQSQueueExecutionRole"

pytestmark = [
    pytest.mark.build,
    pytest.mark.skipif(not SAM_PYTHON.exists(), reason=f"no SAM CLI venv ({SAM_PYTHON}): run `make build` once"),
]


def _translated(parameters: dict[str, str]) -> dict[str, Any]:
    template = load_yaml((REPO / "template.yaml").read_text(encoding="utf-8"))
    for name, res in template["Resources"].items():
        key = {"AWS::Serverless::Function": "CodeUri", "AWS::Serverless::LayerVersion": "ContentUri"}.get(res["Type"])
        if key:
            res["Properties"][key] = f"s3://bucket/{name}.zip"
    return translate(template, parameters)


@pytest.mark.parametrize("parameters", [{}, {"ReadingStoreBackend": "timestream"}], ids=["dynamodb", "timestream"])
def test_each_role_sam_generates_has_exactly_the_statements_the_audit_reads(parameters: dict[str, str]) -> None:
    transformed = _translated(parameters)
    resolver = Template(transformed, root=REPO, parameters=parameters, stack_name=CANONICAL_STACK)
    expected = function_policies(parameters)
    source = Template.load(REPO / "template.yaml", parameters=parameters)
    wrong = {}
    for function, statements in expected.items():
        role = resolver.resolve(transformed["Resources"][f"{function}Role"]["Properties"])
        generated = [s for p in role.get("Policies", []) for s in p["PolicyDocument"]["Statement"]]
        managed = set(role.get("ManagedPolicyArns", []))
        consumer = any(e.get("Type") == "SQS" for e in source.function_properties(function).get("Events", {}).values())
        if generated != statements or managed != MANAGED | ({SQS_POLLING} if consumer else set()):
            wrong[function] = {"sam": generated, "audit": statements, "managed": sorted(managed)}
    assert not wrong, wrong
