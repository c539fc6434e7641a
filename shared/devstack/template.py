"""Load a SAM template and resolve its intrinsic functions for local use.

The local stack is driven entirely by ``template.yaml``: functions, routes, the authorizer,
gateway responses, tables, queues, event source mappings and schedules are all read from it.
Nothing here knows the names of this project's functions.
"""

from __future__ import annotations

import copy
import json
import logging
import re
import secrets
import string
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

log = logging.getLogger("devstack.template")

REGION = "us-east-1"
ACCOUNT_ID = "123456789012"
PARTITION = "aws"
URL_SUFFIX = "amazonaws.com"

TABLE_TYPE = "AWS::DynamoDB::Table"
QUEUE_TYPE = "AWS::SQS::Queue"
FUNCTION_TYPES = ("AWS::Serverless::Function", "AWS::Lambda::Function")
API_TYPE = "AWS::Serverless::Api"
IMPLICIT_API = "ServerlessRestApi"


class TemplateError(Exception):
    """The template uses something the local resolver cannot evaluate."""


class _NoValue:
    """Sentinel for ``AWS::NoValue``: the enclosing key or list item disappears."""

    _instance: _NoValue | None = None

    def __new__(cls) -> _NoValue:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "AWS::NoValue"


NO_VALUE = _NoValue()


# --------------------------------------------------------------------------- YAML loading


class _CfnLoader(yaml.SafeLoader):
    """SafeLoader that understands CloudFormation short-form tags (``!Ref``, ``!GetAtt`` ...)."""


def _construct_tag(loader: yaml.SafeLoader, tag_suffix: str, node: yaml.Node) -> Any:
    value: Any
    if isinstance(node, yaml.ScalarNode):
        value = loader.construct_scalar(node)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    elif isinstance(node, yaml.MappingNode):
        value = loader.construct_mapping(node, deep=True)
    else:  # pragma: no cover - yaml has no other node kinds
        raise TemplateError(f"unsupported node for !{tag_suffix}")
    if tag_suffix == "Ref":
        return {"Ref": value}
    if tag_suffix == "Condition":
        return {"Condition": value}
    if tag_suffix == "GetAtt" and isinstance(value, str):
        resource, _, attribute = value.partition(".")
        return {"Fn::GetAtt": [resource, attribute]}
    return {f"Fn::{tag_suffix}": value}


_CfnLoader.add_multi_constructor("!", _construct_tag)


def load_yaml(text: str) -> dict[str, Any]:
    """Parse a CloudFormation YAML (or JSON) document into plain Python data."""
    data = yaml.load(text, Loader=_CfnLoader)
    if not isinstance(data, dict):
        raise TemplateError("template is not a mapping")
    return data


# --------------------------------------------------------------------------- typed views


@dataclass(frozen=True)
class PhysicalResource:
    """What ``Ref`` and ``Fn::GetAtt`` return for a created (or emulated) resource."""

    logical_id: str
    type: str
    ref: str
    attributes: dict[str, str] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {"type": self.type, "ref": self.ref, "attributes": dict(self.attributes)}


@dataclass(frozen=True)
class EventSpec:
    """One entry of a function's ``Events`` (properties resolved)."""

    name: str
    type: str
    properties: dict[str, Any]


@dataclass(frozen=True)
class FunctionSpec:
    logical_id: str
    function_name: str
    arn: str
    code_dir: Path
    handler: str
    runtime: str | None
    timeout: int
    memory_size: int
    environment: dict[str, str]
    events: tuple[EventSpec, ...]

    @property
    def module_file(self) -> Path:
        """The file the handler lives in: ``app.lambda_handler`` -> ``<code_dir>/app.py``."""
        module, _, _ = self.handler.rpartition(".")
        base = self.code_dir / Path(*module.split("."))
        package_init = base / "__init__.py"
        return package_init if package_init.exists() else base.with_suffix(".py")

    @property
    def handler_name(self) -> str:
        return self.handler.rpartition(".")[2]


@dataclass(frozen=True)
class Route:
    api_id: str
    path: str
    method: str  # upper case; "ANY" matches every method
    function_id: str
    authorizer: str | None  # None: the route is open (Auth.Authorizer NONE or no default)
    event_name: str


@dataclass(frozen=True)
class AuthorizerSpec:
    name: str
    api_id: str
    function_id: str
    payload_type: str  # REQUEST | TOKEN
    headers: tuple[str, ...]
    query_strings: tuple[str, ...]
    reauthorize_every: int
    validation_expression: str | None = None


@dataclass(frozen=True)
class GatewayResponse:
    status_code: int | None
    headers: dict[str, str]  # raw mapping expressions (e.g. "'application/json'")
    templates: dict[str, str]


@dataclass(frozen=True)
class ApiSpec:
    logical_id: str
    stage: str
    default_authorizer: str | None
    authorizers: dict[str, AuthorizerSpec]
    gateway_responses: dict[str, GatewayResponse]
    binary_media_types: tuple[str, ...]
    #: the stage's default method throttle (MethodSettings ``/*`` ``*``): (burst, steady rate per
    #: second) for each method of each resource, as API Gateway applies it; None when unset
    method_throttle: tuple[int, float] | None = None


def _method_throttle(settings: list[dict[str, Any]]) -> tuple[int, float] | None:
    """The throttle of the stage's catch-all method setting (``ResourcePath: /*``, ``HttpMethod: *``)."""
    for setting in settings:
        if setting.get("ResourcePath") == "/*" and setting.get("HttpMethod") == "*":
            burst, rate = setting.get("ThrottlingBurstLimit"), setting.get("ThrottlingRateLimit")
            if burst is not None and rate is not None:
                return int(burst), float(rate)
    return None


@dataclass(frozen=True)
class SqsEventSpec:
    function_id: str
    event_name: str
    queue_id: str  # logical id of the queue
    batch_size: int
    report_batch_item_failures: bool
    maximum_batching_window: int
    enabled: bool


@dataclass(frozen=True)
class ScheduleSpec:
    function_id: str
    event_name: str
    expression: str
    input: str | None
    enabled: bool
    name: str


# --------------------------------------------------------------------------- the template


def _suffix(length: int = 12) -> str:
    alphabet = string.ascii_uppercase + string.digits
    return "".join(secrets.choice(alphabet) for _ in range(length))


def physical_name(stack_name: str, logical_id: str, suffix: str | None = None, max_length: int = 80) -> str:
    """CloudFormation-style generated name ``<stack>-<LogicalId>-<SUFFIX>`` within ``max_length``."""
    suffix = suffix or _suffix()
    room = max_length - len(suffix) - 2
    head = f"{stack_name}-{logical_id}"[:room]
    return f"{head}-{suffix}"


def _deep_merge(base: Any, override: Any) -> Any:
    """SAM Globals semantics: maps merge, lists concatenate, scalars are replaced."""
    if isinstance(base, dict) and isinstance(override, dict):
        merged = dict(base)
        for key, value in override.items():
            merged[key] = _deep_merge(base[key], value) if key in base else value
        return merged
    if isinstance(base, list) and isinstance(override, list):
        return [*base, *override]
    return override


def _as_str(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (dict, list)):
        return json.dumps(value)
    return str(value)


def _as_bool(value: Any, default: bool = True) -> bool:
    if value is None or value is NO_VALUE:
        return default
    if isinstance(value, str):
        return value.strip().lower() in ("true", "1", "yes", "enabled")
    return bool(value)


class Template:
    """A parsed SAM template plus everything needed to resolve it locally.

    ``bind()`` tells the resolver the physical identity of created resources; until then a
    ``Ref`` to a resource yields a deterministic placeholder name.
    """

    def __init__(
        self,
        data: Mapping[str, Any],
        *,
        root: Path,
        parameters: Mapping[str, str] | None = None,
        stack_name: str = "telemetry-local",
        path: Path | None = None,
    ) -> None:
        self.data: dict[str, Any] = dict(data)
        self.root = root
        self.path = path
        self.stack_name = stack_name
        self.resources: dict[str, dict[str, Any]] = dict(self.data.get("Resources") or {})
        self.globals: dict[str, Any] = dict(self.data.get("Globals") or {})
        self.parameters = self._parameter_values(parameters or {})
        self.physical: dict[str, PhysicalResource] = {}
        self._conditions: dict[str, bool] = {}

    @classmethod
    def load(
        cls,
        path: str | Path,
        *,
        parameters: Mapping[str, str] | None = None,
        stack_name: str = "telemetry-local",
    ) -> Template:
        path = Path(path).resolve()
        return cls(
            load_yaml(path.read_text(encoding="utf-8")),
            root=path.parent,
            parameters=parameters,
            stack_name=stack_name,
            path=path,
        )

    # ------------------------------------------------------------------ parameters, binding

    def _parameter_values(self, overrides: Mapping[str, str]) -> dict[str, str]:
        declared: dict[str, Any] = dict(self.data.get("Parameters") or {})
        unknown = set(overrides) - set(declared)
        if unknown:
            raise TemplateError(f"unknown parameter(s): {', '.join(sorted(unknown))}")
        values: dict[str, str] = {}
        for name, spec in declared.items():
            if name in overrides:
                values[name] = str(overrides[name])
            elif isinstance(spec, dict) and "Default" in spec:
                default = spec["Default"]
                values[name] = ",".join(map(str, default)) if isinstance(default, list) else str(default)
            else:
                raise TemplateError(f"parameter {name} has no Default and no override")
        return values

    def bind(self, resources: Mapping[str, PhysicalResource]) -> None:
        """Make ``Ref``/``GetAtt`` of these logical ids return their physical identity."""
        self.physical.update(resources)

    # ------------------------------------------------------------------ conditions

    def condition(self, name: str) -> bool:
        if name not in self._conditions:
            conditions = self.data.get("Conditions") or {}
            if name not in conditions:
                raise TemplateError(f"unknown condition {name}")
            self._conditions[name] = bool(self.resolve(conditions[name]))
        return self._conditions[name]

    def resource_enabled(self, logical_id: str) -> bool:
        cond = self.resources.get(logical_id, {}).get("Condition")
        return True if cond is None else self.condition(cond)

    # ------------------------------------------------------------------ resolver

    def resolve(self, value: Any) -> Any:
        """Evaluate intrinsic functions; ``AWS::NoValue`` removes keys and list items."""
        if isinstance(value, list):
            items = (self.resolve(v) for v in value)
            return [v for v in items if v is not NO_VALUE]
        if not isinstance(value, dict):
            return value
        if len(value) == 1:
            ((key, arg),) = value.items()
            if key == "Ref":
                return self._ref(self.resolve(arg))
            if key == "Condition" and isinstance(arg, str):
                return self.condition(arg)
            if key.startswith("Fn::"):
                return self._fn(key[4:], arg)
        out: dict[str, Any] = {}
        for k, v in value.items():
            resolved = self.resolve(v)
            if resolved is not NO_VALUE:
                out[k] = resolved
        return out

    def _ref(self, name: str) -> Any:
        pseudo = {
            "AWS::Region": REGION,
            "AWS::AccountId": ACCOUNT_ID,
            "AWS::Partition": PARTITION,
            "AWS::URLSuffix": URL_SUFFIX,
            "AWS::StackName": self.stack_name,
            "AWS::StackId": f"arn:aws:cloudformation:{REGION}:{ACCOUNT_ID}:stack/{self.stack_name}/local",
            "AWS::NotificationARNs": [],
        }
        if name == "AWS::NoValue":
            return NO_VALUE
        if name in pseudo:
            return pseudo[name]
        if name in self.parameters:
            return self.parameters[name]
        return self.physical_resource(name).ref

    def _get_att(self, logical_id: str, attribute: str) -> str:
        res = self.physical_resource(logical_id)
        if attribute in res.attributes:
            return res.attributes[attribute]
        raise TemplateError(f"GetAtt {logical_id}.{attribute} is not known locally")

    def physical_resource(self, logical_id: str) -> PhysicalResource:
        """The bound identity of a resource, or a deterministic placeholder for unbound ones."""
        if logical_id in self.physical:
            return self.physical[logical_id]
        if logical_id not in self.resources and logical_id != IMPLICIT_API:
            raise TemplateError(f"Ref/GetAtt to unknown resource or parameter {logical_id}")
        rtype = self.resources.get(logical_id, {}).get("Type", API_TYPE)
        name = f"{self.stack_name}-{logical_id}"
        attrs: dict[str, str] = {"Name": name}
        if rtype == TABLE_TYPE:
            attrs["Arn"] = f"arn:aws:dynamodb:{REGION}:{ACCOUNT_ID}:table/{name}"
        elif rtype == QUEUE_TYPE:
            attrs.update(
                Arn=f"arn:aws:sqs:{REGION}:{ACCOUNT_ID}:{name}",
                QueueName=name,
                QueueUrl=f"https://sqs.{REGION}.amazonaws.com/{ACCOUNT_ID}/{name}",
            )
            return PhysicalResource(logical_id, rtype, attrs["QueueUrl"], attrs)
        elif rtype in FUNCTION_TYPES:
            attrs["Arn"] = f"arn:aws:lambda:{REGION}:{ACCOUNT_ID}:function:{name}"
        elif rtype == API_TYPE:
            api_id = re.sub(r"[^a-z0-9]", "", logical_id.lower())[:10] or "localapi"
            return PhysicalResource(logical_id, rtype, api_id, {"RootResourceId": "root"})
        else:
            attrs["Arn"] = f"arn:aws:local:{REGION}:{ACCOUNT_ID}:{logical_id}/{name}"
        return PhysicalResource(logical_id, rtype, name, attrs)

    def _fn(self, name: str, arg: Any) -> Any:
        if name == "If":
            cond, when_true, when_false = arg
            return self.resolve(when_true if self.condition(cond) else when_false)
        if name == "GetAtt":
            if isinstance(arg, str):
                arg = arg.split(".", 1)
            logical_id, attribute = (self.resolve(a) for a in arg)
            return self._get_att(logical_id, attribute)
        if name == "Sub":
            return self._sub(arg)
        args = self.resolve(arg)
        if name == "Equals":
            left, right = args
            return _as_str(left) == _as_str(right)
        if name == "Not":
            return not bool(args[0])
        if name == "And":
            return all(bool(a) for a in args)
        if name == "Or":
            return any(bool(a) for a in args)
        if name == "Join":
            sep, items = args
            return sep.join(_as_str(i) for i in items)
        if name == "Select":
            index, items = args
            return items[int(index)]
        if name == "Split":
            sep, text = args
            return text.split(sep)
        if name == "FindInMap":
            m, k1, k2 = args
            return self.data["Mappings"][m][k1][k2]
        if name == "Base64":
            import base64

            return base64.b64encode(_as_str(args).encode()).decode()
        if name == "GetAZs":
            return [f"{REGION}{z}" for z in "abc"]
        if name == "ToJsonString":
            return json.dumps(args)
        raise TemplateError(f"Fn::{name} is not supported locally")

    _SUB_VAR = re.compile(r"\$\{([^}]+)\}")

    def _sub(self, arg: Any) -> str:
        if isinstance(arg, list):
            text, variables = arg[0], self.resolve(arg[1])
        else:
            text, variables = arg, {}

        def repl(match: re.Match[str]) -> str:
            expr = match.group(1)
            if expr.startswith("!"):
                return "${" + expr[1:] + "}"
            if expr in variables:
                return _as_str(variables[expr])
            if "." in expr and not expr.startswith("AWS::"):
                logical_id, attribute = expr.split(".", 1)
                return self._get_att(logical_id, attribute)
            return _as_str(self._ref(expr))

        return self._SUB_VAR.sub(repl, text)

    # ------------------------------------------------------------------ typed accessors

    def _of_type(self, *types: str) -> Iterator[tuple[str, dict[str, Any]]]:
        for logical_id, res in self.resources.items():
            if res.get("Type") in types and self.resource_enabled(logical_id):
                yield logical_id, res

    def function_ids(self) -> list[str]:
        return [lid for lid, _ in self._of_type(*FUNCTION_TYPES)]

    def function_properties(self, logical_id: str) -> dict[str, Any]:
        """Raw (unresolved) properties with ``Globals.Function`` merged in."""
        res = self.resources[logical_id]
        props = copy.deepcopy(res.get("Properties") or {})
        if res.get("Type") == "AWS::Serverless::Function":
            props = _deep_merge(copy.deepcopy(self.globals.get("Function") or {}), props)
        return props

    def function(self, logical_id: str) -> FunctionSpec:
        if logical_id not in self.resources or self.resources[logical_id].get("Type") not in FUNCTION_TYPES:
            raise KeyError(f"no function {logical_id} in template")
        props = self.function_properties(logical_id)
        phys = self.physical_resource(logical_id)
        env_vars = self.resolve(((props.get("Environment") or {}).get("Variables")) or {})
        code_uri = self.resolve(props.get("CodeUri", "."))
        if not isinstance(code_uri, str):
            raise TemplateError(f"{logical_id}: only local CodeUri paths are supported")
        events = tuple(
            EventSpec(name, ev.get("Type", ""), self.resolve(ev.get("Properties") or {}))
            for name, ev in (props.get("Events") or {}).items()
        )
        return FunctionSpec(
            logical_id=logical_id,
            function_name=phys.ref,
            arn=phys.attributes.get("Arn", ""),
            code_dir=(self.root / code_uri).resolve(),
            handler=str(self.resolve(props.get("Handler", "app.lambda_handler"))),
            runtime=self.resolve(props.get("Runtime")),
            timeout=int(self.resolve(props.get("Timeout", 3))),
            memory_size=int(self.resolve(props.get("MemorySize", 128))),
            environment={k: _as_str(v) for k, v in env_vars.items()},
            events=events,
        )

    def functions(self) -> list[FunctionSpec]:
        return [self.function(lid) for lid in self.function_ids()]

    def _raw_events(self, logical_id: str) -> dict[str, dict[str, Any]]:
        return dict(self.function_properties(logical_id).get("Events") or {})

    def _api_properties(self, api_id: str) -> dict[str, Any]:
        own = (self.resources.get(api_id) or {}).get("Properties") or {}
        return _deep_merge(copy.deepcopy(self.globals.get("Api") or {}), copy.deepcopy(own))

    def api_ids(self) -> list[str]:
        ids = [lid for lid, _ in self._of_type(API_TYPE)]
        if any(r.api_id == IMPLICIT_API for r in self.api_routes()):
            ids.append(IMPLICIT_API)
        return ids

    def api(self, api_id: str) -> ApiSpec:
        props = self._api_properties(api_id)
        auth = props.get("Auth") or {}
        authorizers: dict[str, AuthorizerSpec] = {}
        for name, spec in (auth.get("Authorizers") or {}).items():
            fn_id = self._function_id_of(spec.get("FunctionArn"))
            if fn_id is None:
                log.warning("authorizer %s is not a Lambda authorizer of this template; ignored", name)
                continue
            identity = spec.get("Identity") or {}
            payload = str(spec.get("FunctionPayloadType", "TOKEN")).upper()
            headers = identity.get("Headers") or []
            if payload == "TOKEN":
                headers = [identity.get("Header", "Authorization")]
            authorizers[name] = AuthorizerSpec(
                name=name,
                api_id=api_id,
                function_id=fn_id,
                payload_type=payload,
                headers=tuple(str(self.resolve(h)) for h in headers),
                query_strings=tuple(str(self.resolve(q)) for q in identity.get("QueryStrings") or []),
                reauthorize_every=int(self.resolve(identity.get("ReauthorizeEvery", 300))),
                validation_expression=identity.get("ValidationExpression"),
            )
        responses: dict[str, GatewayResponse] = {}
        for rtype, spec in (self.resolve(props.get("GatewayResponses") or {})).items():
            params = spec.get("ResponseParameters") or {}
            status = spec.get("StatusCode")
            responses[rtype] = GatewayResponse(
                status_code=int(status) if status is not None else None,
                headers={str(k): str(v) for k, v in (params.get("Headers") or {}).items()},
                templates={str(k): str(v) for k, v in (spec.get("ResponseTemplates") or {}).items()},
            )
        default = auth.get("DefaultAuthorizer")
        return ApiSpec(
            logical_id=api_id,
            stage=str(self.resolve(props.get("StageName", "Prod"))),
            default_authorizer=None if default in (None, "NONE") else str(default),
            authorizers=authorizers,
            gateway_responses=responses,
            binary_media_types=tuple(
                str(t).replace("~1", "/") for t in self.resolve(props.get("BinaryMediaTypes") or [])
            ),
            method_throttle=_method_throttle(self.resolve(props.get("MethodSettings") or [])),
        )

    def apis(self) -> dict[str, ApiSpec]:
        return {api_id: self.api(api_id) for api_id in self.api_ids()}

    def _function_id_of(self, ref: Any) -> str | None:
        """Logical id of the function a FunctionArn/Queue-style reference points to."""
        if isinstance(ref, dict):
            if "Fn::GetAtt" in ref:
                target = ref["Fn::GetAtt"]
                return str(target[0] if isinstance(target, list) else target.split(".")[0])
            if "Ref" in ref:
                return str(ref["Ref"])
        return None

    def _resource_id_of(self, ref: Any) -> str | None:
        found = self._function_id_of(ref)
        if found is not None:
            return found
        if isinstance(ref, str):  # a literal ARN/URL: find the bound resource carrying it
            for lid, res in self.physical.items():
                if ref == res.ref or ref in res.attributes.values():
                    return lid
        return None

    def api_routes(self) -> list[Route]:
        routes: list[Route] = []
        for fn_id in self.function_ids():
            for ev_name, ev in self._raw_events(fn_id).items():
                if ev.get("Type") != "Api":
                    continue
                props = ev.get("Properties") or {}
                api_ref = props.get("RestApiId")
                api_id = self._function_id_of(api_ref) if api_ref is not None else IMPLICIT_API
                api_id = api_id or IMPLICIT_API
                api_auth = (self._api_properties(api_id).get("Auth") or {}).get("DefaultAuthorizer")
                authorizer = (props.get("Auth") or {}).get("Authorizer", api_auth)
                if authorizer in (None, "NONE", "AWS_IAM"):
                    authorizer = None
                routes.append(
                    Route(
                        api_id=api_id,
                        path=str(self.resolve(props["Path"])),
                        method=str(self.resolve(props["Method"])).upper(),
                        function_id=fn_id,
                        authorizer=authorizer,
                        event_name=ev_name,
                    )
                )
        return routes

    def authorizer(self, api_id: str | None = None, name: str | None = None) -> AuthorizerSpec | None:
        """The named authorizer, else the API's default authorizer (first API if not given)."""
        apis = self.apis() if api_id is None else {api_id: self.api(api_id)}
        for api in apis.values():
            wanted = name or api.default_authorizer
            if wanted and wanted in api.authorizers:
                return api.authorizers[wanted]
        return None

    def gateway_responses(self, api_id: str | None = None) -> dict[str, GatewayResponse]:
        ids = [api_id] if api_id else self.api_ids()
        return self.api(ids[0]).gateway_responses if ids else {}

    def tables(self) -> dict[str, dict[str, Any]]:
        """Enabled ``AWS::DynamoDB::Table`` resources with resolved properties."""
        return {lid: self.resolve(res.get("Properties") or {}) for lid, res in self._of_type(TABLE_TYPE)}

    def queue_ids(self) -> list[str]:
        return [lid for lid, _ in self._of_type(QUEUE_TYPE)]

    def queues(self) -> dict[str, dict[str, Any]]:
        """Enabled ``AWS::SQS::Queue`` resources with resolved properties (bind DLQs first)."""
        return {lid: self.resolve(res.get("Properties") or {}) for lid, res in self._of_type(QUEUE_TYPE)}

    def raw_properties(self, logical_id: str) -> dict[str, Any]:
        return dict(self.resources[logical_id].get("Properties") or {})

    def references(self, value: Any) -> set[str]:
        """Logical ids of resources referenced anywhere inside ``value``."""
        found: set[str] = set()
        if isinstance(value, list):
            for v in value:
                found |= self.references(v)
        elif isinstance(value, dict):
            for k, v in value.items():
                if k == "Ref" and isinstance(v, str) and v in self.resources:
                    found.add(v)
                elif k == "Fn::GetAtt":
                    target = v[0] if isinstance(v, list) else str(v).split(".")[0]
                    if target in self.resources:
                        found.add(target)
                elif k == "Fn::Sub":
                    text = v[0] if isinstance(v, list) else v
                    for expr in self._SUB_VAR.findall(text):
                        head = expr.split(".")[0]
                        if head in self.resources:
                            found.add(head)
                    if isinstance(v, list):
                        found |= self.references(v[1])
                else:
                    found |= self.references(v)
        return found

    def sqs_events(self) -> list[SqsEventSpec]:
        specs: list[SqsEventSpec] = []
        for fn_id in self.function_ids():
            for ev_name, ev in self._raw_events(fn_id).items():
                if ev.get("Type") != "SQS":
                    continue
                props = ev.get("Properties") or {}
                queue_id = self._resource_id_of(props.get("Queue"))
                if queue_id is None:
                    log.warning(
                        "%s.%s: queue %r is not a queue of this template; skipped", fn_id, ev_name, props.get("Queue")
                    )
                    continue
                resolved = self.resolve({k: v for k, v in props.items() if k != "Queue"})
                specs.append(
                    SqsEventSpec(
                        function_id=fn_id,
                        event_name=ev_name,
                        queue_id=queue_id,
                        batch_size=int(resolved.get("BatchSize", 10)),
                        report_batch_item_failures="ReportBatchItemFailures"
                        in (resolved.get("FunctionResponseTypes") or []),
                        maximum_batching_window=int(resolved.get("MaximumBatchingWindowInSeconds", 0)),
                        enabled=_as_bool(resolved.get("Enabled"), True),
                    )
                )
        return specs

    def schedule_events(self) -> list[ScheduleSpec]:
        specs: list[ScheduleSpec] = []
        for fn_id in self.function_ids():
            for ev_name, ev in self._raw_events(fn_id).items():
                etype = ev.get("Type")
                if etype not in ("Schedule", "ScheduleV2"):
                    continue
                props = self.resolve(ev.get("Properties") or {})
                expression = props.get("Schedule") if etype == "Schedule" else props.get("ScheduleExpression")
                state = props.get("State")
                enabled = _as_bool(props.get("Enabled"), True) and (state is None or str(state).upper() == "ENABLED")
                specs.append(
                    ScheduleSpec(
                        function_id=fn_id,
                        event_name=ev_name,
                        expression=str(expression),
                        input=props.get("Input"),
                        enabled=enabled,
                        name=str(props.get("Name") or f"{self.stack_name}-{fn_id}{ev_name}"),
                    )
                )
        return specs

    def outputs(self) -> dict[str, Any]:
        """Resolved ``Outputs`` values (outputs whose condition is false are left out)."""
        out: dict[str, Any] = {}
        for name, spec in (self.data.get("Outputs") or {}).items():
            cond = spec.get("Condition")
            if cond is None or self.condition(cond):
                out[name] = self.resolve(spec.get("Value"))
        return out
