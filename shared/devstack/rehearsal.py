"""Deploy rehearsal without AWS: the built template, packaged, transformed by the SAM translator and
created in moto's CloudFormation (issue 10, item 6).

1. **Package** (what `sam package` does): zip each function's and layer's build folder, upload the
   zips to an S3 bucket (moto's), and point ``CodeUri``/``ContentUri`` at them.
2. **Transform** with the SAM translator (``samtranslator``, the library CloudFormation's
   ``AWS::Serverless-2016-10-31`` transform runs). It comes with the SAM CLI, so it runs in the build
   tool's venv (``.venv-build``, `make build`), in a subprocess, on the packaged template as JSON.
3. **Create** the transformed template with ``create_stack`` in moto's CloudFormation and report
   the stack's status, the resources that failed, and the resource types moto does not implement
   (moto skips those with a warning: such a resource is not rehearsed at all).

Two gaps of moto's are bridged, and said so: its ``AWS::ApiGateway::RestApi`` requires ``Name`` and
ignores ``Body`` (:func:`rest_api_from_body` says why that fails and how it is bridged), and its
``AWS::Lambda::Function`` drops ``Layers`` (:func:`lambda_layers_kept`).

``python -m devstack.rehearsal`` prints the report.
"""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import warnings
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from unittest.mock import patch

from devstack.lambda_build import BUILD_DIR, ROOT
from devstack.template import load_yaml

SAM_PYTHON = ROOT / ".venv-build" / "bin" / "python"
BUCKET = "rehearsal-artifacts"
STACK = "telemetry-rehearsal"
REGION = "us-east-1"

_TRANSLATE = r"""
import json, sys
from samtranslator.translator.transform import transform

class NoManagedPolicies:
    # the template names no AWS managed policy by name (only SAM policy templates and statements)
    def load(self):
        return {}

doc = json.load(sys.stdin)
json.dump(transform(doc, json.loads(sys.argv[1]), NoManagedPolicies()), sys.stdout)
"""


@dataclass
class Rehearsal:
    status: str
    status_reason: str
    created: dict[str, str] = field(default_factory=dict)  # logical id -> type, as moto created them
    failed: dict[str, str] = field(default_factory=dict)  # logical id -> reason
    unsupported: dict[str, list[str]] = field(default_factory=dict)  # type -> logical ids moto skipped
    layers_per_function: dict[str, int] = field(default_factory=dict)  # deployed function name -> its layers
    transformed: dict[str, Any] = field(default_factory=dict)


def _zip(folder: Path) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as zf:
        for path in sorted(folder.rglob("*")):
            if path.is_file():
                zf.write(path, path.relative_to(folder).as_posix())
    return buf.getvalue()


def package(build_dir: Path, s3: Any, bucket: str = BUCKET) -> dict[str, Any]:
    """The built template with every code folder zipped into ``bucket`` and referenced by s3:// URI."""
    template = load_yaml((build_dir / "template.yaml").read_text())
    s3.create_bucket(Bucket=bucket)
    for name, res in template["Resources"].items():
        key = {"AWS::Serverless::Function": "CodeUri", "AWS::Serverless::LayerVersion": "ContentUri"}.get(res["Type"])
        if key is None:
            continue
        s3.put_object(Bucket=bucket, Key=f"{name}.zip", Body=_zip(build_dir / str(res["Properties"][key])))
        res["Properties"][key] = f"s3://{bucket}/{name}.zip"
    return template


def translate(template: dict[str, Any], parameters: dict[str, str] | None = None) -> dict[str, Any]:
    """The SAM translator's output for ``template`` (run by the SAM CLI's own venv)."""
    if not SAM_PYTHON.exists():
        raise FileNotFoundError(f"{SAM_PYTHON}: the SAM CLI's venv; `make build` installs it")
    proc = subprocess.run(
        [str(SAM_PYTHON), "-c", _TRANSLATE, json.dumps(parameters or {})],
        input=json.dumps(template),
        capture_output=True,
        text=True,
        env={**os.environ, "AWS_DEFAULT_REGION": REGION},
    )
    if proc.returncode != 0:
        raise RuntimeError(f"the SAM translator refused the template:\n{proc.stderr[-4000:]}")
    out: dict[str, Any] = json.loads(proc.stdout)
    return out


@contextmanager
def rest_api_from_body() -> Iterator[None]:
    """moto's ``AWS::ApiGateway::RestApi`` as CloudFormation's: an OpenAPI ``Body`` is imported.

    moto reads only ``Name`` (a KeyError without it) and drops ``Body``; the SAM translator emits the
    API as a ``Body`` without ``Name``, and CloudFormation then names the API after ``info.title``
    and creates its resources and methods from the body. Without the methods, moto's
    ``AWS::ApiGateway::Deployment`` then fails ("The REST API doesn't contain any methods").
    """
    from moto.apigateway.models import APIGatewayBackend, RestAPI, apigateway_backends

    original = RestAPI.create_from_cloudformation_json
    put_integration = APIGatewayBackend.put_integration

    def put_mock_integration(self: APIGatewayBackend, *args: Any, **kw: Any) -> Any:
        # A MOCK integration (the CORS preflight's OPTIONS) has no uri and no httpMethod; AWS imports
        # it so, but moto's import passes only the keys present and its put_integration requires both.
        if str(kw.get("integration_type", "")).upper() == "MOCK":
            kw.setdefault("uri", "")
            kw.setdefault("integration_method", "")
        return put_integration(self, *args, **kw)

    def create(
        cls: type[RestAPI],
        resource_name: str,
        cloudformation_json: dict[str, Any],
        account_id: str,
        region_name: str,
        **kw: Any,
    ) -> RestAPI:
        props = cloudformation_json["Properties"]
        body = props.get("Body")
        if not isinstance(body, dict):
            return original(resource_name, cloudformation_json, account_id, region_name, **kw)
        backend = apigateway_backends[account_id][region_name]
        api = backend.create_rest_api(
            name=props.get("Name") or body["info"]["title"],
            description=props.get("Description", ""),
            endpoint_configuration=props.get("EndpointConfiguration"),
        )
        backend.put_rest_api(api.id, body, fail_on_warnings=False)
        return api

    with (
        patch.object(RestAPI, "create_from_cloudformation_json", classmethod(create)),
        patch.object(APIGatewayBackend, "put_integration", put_mock_integration),
    ):
        yield


@contextmanager
def lambda_layers_kept() -> Iterator[None]:
    """moto's ``AWS::Lambda::Function`` with its ``Layers`` (moto's CloudFormation drops them).

    The function's layer ARNs (resolved ``Ref``s to this stack's layer versions) are checked by moto's
    own Lambda backend: a reference to a layer version it does not hold fails the resource.
    """
    from moto.awslambda.models import LambdaFunction

    original = LambdaFunction.create_from_cloudformation_json

    def create(
        cls: type[LambdaFunction],
        resource_name: str,
        cloudformation_json: dict[str, Any],
        account_id: str,
        region_name: str,
        **kw: Any,
    ) -> LambdaFunction:
        fn = original(resource_name, cloudformation_json, account_id, region_name, **kw)
        # moto resolves a Ref to a layer version of the same stack to the object itself, not to its ARN
        layers = [getattr(x, "arn", x) for x in cloudformation_json["Properties"].get("Layers", [])]
        fn.layers = fn._get_layers_data(layers)
        return fn

    with patch.object(LambdaFunction, "create_from_cloudformation_json", classmethod(create)):
        yield


@contextmanager
def role_policies_without_novalue() -> Iterator[None]:
    """moto's ``AWS::IAM::Role`` with ``!If [cond, policy, !Ref AWS::NoValue]`` entries dropped.

    CloudFormation removes a ``NoValue`` from a list; moto leaves ``None`` in ``Policies`` and fails
    on it (the Timestream statement exists only under ``UseTimestream``).
    """
    from moto.iam.models import Role

    original = Role.create_from_cloudformation_json

    def create(cls: type[Role], resource_name: str, cloudformation_json: dict[str, Any], *args: Any, **kw: Any) -> Role:
        properties = cloudformation_json.get("Properties", {})
        if isinstance(properties.get("Policies"), list):
            properties["Policies"] = [p for p in properties["Policies"] if p is not None]
        return original(resource_name, cloudformation_json, *args, **kw)

    with patch.object(Role, "create_from_cloudformation_json", classmethod(create)):
        yield


def rehearse(build_dir: Path = BUILD_DIR, parameters: dict[str, str] | None = None) -> Rehearsal:
    """Package, transform and create the stack in moto (in-process, ``mock_aws``)."""
    import boto3
    from moto import mock_aws
    from moto.cloudformation.parsing import get_model_map

    os.environ.setdefault("AWS_ACCESS_KEY_ID", "testing")
    os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "testing")
    with mock_aws(), warnings.catch_warnings():
        warnings.simplefilter("ignore")  # moto warns once per unsupported type: reported as `unsupported`
        session = boto3.session.Session(region_name=REGION)
        packaged = package(build_dir, session.client("s3"))
        transformed = translate(packaged, parameters)
        supported = set(get_model_map())
        conditions_off = _false_conditions(transformed, parameters or {})
        unsupported: dict[str, list[str]] = {}
        for name, res in transformed["Resources"].items():
            if res["Type"] not in supported and res.get("Condition") not in conditions_off:
                unsupported.setdefault(res["Type"], []).append(name)
        cfn = session.client("cloudformation")
        with rest_api_from_body(), lambda_layers_kept(), role_policies_without_novalue():
            cfn.create_stack(
                StackName=STACK,
                TemplateBody=json.dumps(transformed),
                Parameters=[{"ParameterKey": k, "ParameterValue": v} for k, v in (parameters or {}).items()],
                Capabilities=["CAPABILITY_IAM", "CAPABILITY_NAMED_IAM", "CAPABILITY_AUTO_EXPAND"],
            )
        stack = cfn.describe_stacks(StackName=STACK)["Stacks"][0]
        resources = cfn.describe_stack_resources(StackName=STACK)["StackResources"]
        events = cfn.describe_stack_events(StackName=STACK)["StackEvents"]
        pages = session.client("lambda").get_paginator("list_functions").paginate()
        layers = {f["FunctionName"]: len(f.get("Layers", [])) for page in pages for f in page["Functions"]}
    return Rehearsal(
        status=stack["StackStatus"],
        status_reason=stack.get("StackStatusReason", ""),
        created={r["LogicalResourceId"]: r["ResourceType"] for r in resources if "LogicalResourceId" in r},
        failed={
            e["LogicalResourceId"]: e.get("ResourceStatusReason", "")
            for e in events
            if e.get("ResourceStatus", "").endswith("FAILED")
        },
        unsupported=unsupported,
        layers_per_function=layers,
        transformed=transformed,
    )


def _false_conditions(template: dict[str, Any], parameters: dict[str, str]) -> set[str]:
    """The conditions that are false with the defaults (only the `!Equals [!Ref P, v]` forms we use)."""
    values = {k: str(v.get("Default", "")) for k, v in template.get("Parameters", {}).items()} | parameters

    def evaluate(expr: Any) -> bool | None:
        if isinstance(expr, dict) and "Fn::Equals" in expr:
            a, b = (values.get(x["Ref"]) if isinstance(x, dict) and "Ref" in x else str(x) for x in expr["Fn::Equals"])
            return a == b
        if isinstance(expr, dict) and "Fn::Not" in expr:
            inner = evaluate(expr["Fn::Not"][0])
            return None if inner is None else not inner
        return None

    return {name for name, expr in template.get("Conditions", {}).items() if evaluate(expr) is False}


def main() -> int:
    result = rehearse()
    print(f"stack: {result.status} {result.status_reason}")
    print(f"created by moto: {len(result.created)} resources, {len(result.layers_per_function)} Lambda functions")
    for name, reason in sorted(result.failed.items()):
        print(f"FAILED {name}: {reason}")
    for rtype, names in sorted(result.unsupported.items()):
        print(
            f"not implemented by moto (skipped): {rtype} x{len(names)} ({', '.join(names[:3])}{', ...' if len(names) > 3 else ''})"
        )
    return 0 if result.status == "CREATE_COMPLETE" and not result.failed else 1


if __name__ == "__main__":
    sys.exit(main())
