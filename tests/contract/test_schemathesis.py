"""shared/openapi.json against the running local stack (`make run`), with schemathesis.

Every operation of the document is generated from its schemas (the document's examples, then
random valid and invalid requests) and sent over HTTP to the real gateway, authorizer and
handlers, with real ids (a world of one of everything, created through the API) so that requests
reach the handlers' logic instead of answering 404. Each answer is checked by these schemathesis
checks (docs/openapi.md):

* ``not_a_server_error``: no 5xx, ever.
* ``status_code_conformance``: the status is one the operation documents.
* ``content_type_conformance``: the Content-Type is the documented one for that status.
* ``response_schema_conformance``: the body matches the documented schema (the handler's model).
* ``response_headers_conformance``: documented headers (``Retry-After`` on 429) are present.
* ``positive_data_acceptance``: a request valid by the schema is accepted (2xx; or 401/403/404/
  409/429 as schemathesis allows), except where validity depends on stored state (below).
* ``negative_data_rejection``: a request invalid by the schema is refused with a 4xx.

Not used: ``ignored_auth`` and ``use_after_free`` (stateful, they need the long run's links), and
``unsupported_method``, which expects 405 where API Gateway (and so the local gateway) answers a
method no route declares with the MISSING_AUTHENTICATION_TOKEN gateway response: our 404 problem.

`make test` runs a fast seeded sample (derandomized, ``SCHEMATHESIS_EXAMPLES`` per operation, 3 by
default); `make fuzz` runs the long one (``FUZZ_EXAMPLES``, 500 by default, with the coverage phase).
"""

from __future__ import annotations

import os
import random
import re
import uuid
from typing import Any

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.config import SchemathesisConfig
from schemathesis.generation import GenerationMode
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    ensure_resource_availability,
    negative_data_rejection,
    positive_data_acceptance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
    use_after_free,
)

from tests.conftest import REPO
from tests.support import assert_documented_answer, openapi_document

LONG = "FUZZ_EXAMPLES" in os.environ
EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES") or os.environ.get("SCHEMATHESIS_EXAMPLES") or 3)
#: `make test` replays one seed; `make fuzz` draws a new one unless SCHEMATHESIS_SEED is given (a
#: failure names the seed, so that `SCHEMATHESIS_SEED=<n> make fuzz` replays it)
SEED = int(os.environ.get("SCHEMATHESIS_SEED") or (random.randrange(2**32) if LONG else 8))

CONFIG = SchemathesisConfig.from_dict(
    {
        "seed": SEED,
        "generation": {
            "max-examples": EXAMPLES,
            "deterministic": not LONG,
            "database": "none",
            # unknown query parameters and headers are ignored, as API Gateway passes them on (and
            # proxies add headers); unknown body fields are refused (extra="forbid", tested in
            # tests/integration), but schemathesis can only switch both off together
            "allow-extra-parameters": False,
        },
        # the coverage phase sends every boundary of every schema: minutes, so only in `make fuzz`
        "phases": {"coverage": {"enabled": LONG}},
    }
)
schema = schemathesis.openapi.from_path(REPO / "shared" / "openapi.json", config=CONFIG)

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    response_headers_conformance,
    positive_data_acceptance,
    negative_data_rejection,
]
#: operations whose schema-valid requests may still be refused 4xx, because validity depends on
#: stored state the schema cannot carry: positive_data_acceptance is off for them (each is covered
#: by a documented positive request in test_tenancy_matrix.py and test_documented_examples below)
STATE_DEPENDENT = {
    # the values must be the data source's schema keys, with their types
    ("POST", "/api/data"): "values must match the data source's schema",
    ("POST", "/api/data/batch"): "values must match the data source's schema",
    # the token must be one the organization created
    ("POST", "/api/streams/ingest"): "the token must be a live data stream token",
    # readings must be the sensor's declared parameters, in their units and ranges
    ("POST", "/ingestion/v1/measurements"): "readings must be the sensor's declared parameters",
    # metric names and values must be the thing type's
    ("POST", "/v2/thing/{thingId}/data"): "metrics must be the thing type's",
    # a template maps a payload: whether it fits depends on the template
    ("POST", "/v2/thing/{thingId}/data/template/{templateId}"): "the payload must fit the template",
    ("POST", "/v2/transactions/template/{templateId}"): "the payload must fit the template",
    ("POST", "/v2/templates/{templateId}/test"): "the payload must fit the template",
    # a template's spec is validated per format (JSON Pointer, JavaScript, DBC)
    ("POST", "/v2/templates"): "the spec is validated against its format",
    ("PUT", "/v2/templates/{templateId}"): "the spec is validated against the template's format",
    # ids in the body must exist in the organization
    ("POST", "/v2/definitions/thing-types"): "metricIds must exist",
    ("POST", "/v2/definitions/thing-types/{thingTypeId}/versions"): "metricIds must exist",
    ("POST", "/v2/sites/{placeId}/things"): "thingTypeId must exist",
    ("POST", "/v2/integrations"): "templateId must be an Integrations template of the organization",
    ("PUT", "/v2/integrations/{integrationId}"): "templateId must be an Integrations template of the organization",
    ("POST", "/v2/fleets/{placeId}/things"): "thingTypeId must exist",
    ("POST", "/v2/buckets/{bucketId}/data-sources"): "schema keys must be unique case-insensitively",
    # a metric's aggregation must suit its data type
    ("POST", "/v2/definitions/metrics"): "the aggregation must suit the data type",
    # a range or a type's storage
    ("GET", "/v2/things/{thingId}/history"): "start must be before end",
    ("GET", "/v2/things/{thingId}/aggregates"): "start must be before end",
    ("GET", "/v2/transactions"): "start must be before end",
    ("GET", "/v2/data-streams/metrics/{metricName}"): "start must be before end",
    ("GET", "/api/data"): "startTime must be before endTime",
    # the clock
    ("POST", "/v2/api-keys"): "expiresAt must be in the future",
}
#: operations that remove the resource they address: they get a spare one each time
DESTRUCTIVE = {
    ("DELETE", "/v2/api-keys/{keyId}"),
    ("DELETE", "/v2/data-streams/{streamId}"),
    ("DELETE", "/v2/templates/{templateId}"),
    # a new key, or a sensor set to maintenance, would lock the world's sensor out of ingestion
    ("POST", "/v2/sensors/{sensorId}/rotate-key"),
    ("PATCH", "/v2/sensors/{sensorId}"),
}


class World:
    """One organization with one of everything, created through the API."""

    def __init__(self, url: str, key: str) -> None:
        self.url, self.key = url, key
        self.session = requests.Session()
        self.session.headers["X-Api-Key"] = key
        self.plain = requests.Session()  # what the generated cases are sent with: their own headers
        ids: dict[str, str] = {}
        metric = self.ok(
            "POST", "/v2/definitions/metrics", {"name": "soc", "dataType": "Double", "defaultAggregation": "Last"}
        )
        ids["metricId"], ids["metricName"] = metric["id"], "cost"
        ids["thingTypeId"] = self.ok(
            "POST", "/v2/definitions/thing-types", {"displayName": "B", "metricIds": [metric["id"]]}
        )["id"]
        ids["placeId"] = self.ok("POST", "/v2/sites", {"name": "S"})["id"]
        self.fleet_id = self.ok("POST", "/v2/fleets", {"name": "F"})["id"]
        ids["thingId"] = self.ok(
            "POST", f"/v2/sites/{ids['placeId']}/things", {"thingName": "t", "thingTypeId": ids["thingTypeId"]}
        )["id"]
        ids["buildingId"] = self.ok("POST", "/v2/buildings", {"name": "HQ"})["id"]
        ids["roomId"] = self.ok("POST", f"/v2/buildings/{ids['buildingId']}/rooms", {"name": "R"})["id"]
        sensor = self.ok("POST", f"/v2/rooms/{ids['roomId']}/sensors", {"name": "S", "parameters": ["co2"]})
        ids["sensorId"], self.sensor_key = sensor["id"], sensor["secretKey"]
        stream = self.ok("POST", "/v2/data-streams", {"name": "costs"})
        ids["streamId"], self.stream_token = stream["id"], stream["token"]
        ids["bucketId"] = self.ok("POST", "/v2/buckets", {"name": "home"})["id"]
        ids["dataSourceId"] = self.ok(
            "POST", f"/v2/buckets/{ids['bucketId']}/data-sources", {"name": "d", "schema": {"v": {"type": "number"}}}
        )["id"]
        spec = {
            "recordsPointer": "/readings",
            "timestamp": {"source": {"pointer": "/ts"}, "format": "epoch_ms"},
            "mappings": [{"metricId": metric["id"], "source": {"pointer": "/v"}}],
        }
        self.template_body = {"name": "tm", "target": "ThingData", "format": "JsonPointer", "spec": spec}
        ids["templateId"] = self.ok("POST", "/v2/templates", self.template_body)["id"]
        ids["keyId"] = self.ok("POST", "/v2/api-keys", {"name": "k", "scopes": ["metrics:read"]})["id"]
        self.ids = ids

    def ok(self, method: str, path: str, body: Any = None) -> Any:
        answer = self.session.request(method, self.url + path, json=body, timeout=30)
        assert answer.status_code in (200, 201), (method, path, answer.status_code, answer.text)
        return answer.json()

    def spare(self, path: str) -> str:
        """A fresh resource for an operation that deletes the one it addresses."""
        if path.startswith("/v2/api-keys"):
            return str(self.ok("POST", "/v2/api-keys", {"name": "spare", "scopes": ["metrics:read"]})["id"])
        if path.startswith("/v2/sensors"):
            room = self.ids["roomId"]
            return str(self.ok("POST", f"/v2/rooms/{room}/sensors", {"name": "spare", "parameters": ["co2"]})["id"])
        if path.startswith("/v2/data-streams"):
            return str(self.ok("POST", "/v2/data-streams", {"name": "spare"})["id"])
        return str(self.ok("POST", "/v2/templates", self.template_body)["id"])

    def path_ids(self, method: str, path: str) -> dict[str, str]:
        ids = dict(self.ids)
        if "/v2/fleets/" in path:
            ids["placeId"] = self.fleet_id
        if (method, path) in DESTRUCTIVE:
            name = re.findall(r"\{(\w+)\}", path)[-1]
            ids[name] = self.spare(path)
        return ids


@pytest.fixture(scope="module")
def world(local_stack: Any, api_key: str) -> World:
    return World(local_stack.url, api_key)


def _positive(case: Any, location: str) -> bool:
    info = case.meta.components.get(location) if case.meta else None
    return info is None or info.mode == GenerationMode.POSITIVE


def prepare(case: Any, world: World, *, world_ids: bool = True) -> tuple[dict[str, str], list[Any]]:
    """Real ids and credentials into a generated case, where the generated part is valid anyway
    (a negative path parameter or body stays as generated, so it is still refused). Stateful steps
    (``world_ids=False``) keep the path ids their links gave them."""
    method, path = case.operation.method.upper(), case.operation.path
    if case.path_parameters and _positive(case, "path") and world_ids:
        ids = world.path_ids(method, path)
        case.path_parameters = {name: ids.get(name, value) for name, value in case.path_parameters.items()}
    if isinstance(case.query, dict) and _positive(case, "query"):
        case.query.pop("continuationToken", None)  # opaque: a random one is rightly refused
        for name in ("bucketId", "dataSourceId"):
            if name in case.query:
                case.query[name] = world.ids[name]
    if isinstance(case.body, dict) and _positive(case, "body"):
        if "data_stream_token" in case.body:
            case.body["data_stream_token"] = world.stream_token
        if path.startswith("/api/data"):
            case.body["bucketId"] = world.ids["bucketId"]
            for point in [case.body, *(p for p in case.body.get("dataPoints") or [] if isinstance(p, dict))]:
                if "dataSourceId" in point:
                    point["dataSourceId"] = world.ids["dataSourceId"]
        # ids a create's body names must exist, so that the create succeeds and its links fire
        if isinstance(case.body.get("metricIds"), list) and path.startswith("/v2/definitions/"):
            case.body["metricIds"] = [world.ids["metricId"]]
        if "thingTypeId" in case.body and path.endswith("/things"):
            case.body["thingTypeId"] = world.ids["thingTypeId"]
        if "sensorId" in case.body and path.startswith("/ingestion/"):
            case.body["sensorId"] = world.ids["sensorId"]
    headers: dict[str, str] = {}
    if _positive(case, "header"):  # a negative case may be the missing credential itself
        headers = {"X-Sensor-Key": world.sensor_key} if path.startswith("/ingestion/") else {"X-Api-Key": world.key}
    excluded = [positive_data_acceptance] if (method, path) in STATE_DEPENDENT else []
    return headers, excluded


@schema.parametrize()
@settings(
    max_examples=EXAMPLES,
    derandomize=not LONG,
    deadline=None,
    database=None,
    suppress_health_check=list(HealthCheck),
)
def test_the_stack_keeps_the_documented_contract(case: Any, world: World, local_stack: Any) -> None:
    headers, excluded = prepare(case, world)
    try:
        case.call_and_validate(
            base_url=local_stack.url,
            session=world.plain,
            headers=headers,
            checks=CHECKS,
            excluded_checks=excluded,
            timeout=30,
        )
    except Exception as failure:
        failure.add_note(f"replay: SCHEMATHESIS_SEED={SEED} FUZZ_EXAMPLES={EXAMPLES}" if LONG else f"seed {SEED}")
        raise


def test_every_state_dependent_exemption_is_a_documented_operation() -> None:
    """An exemption from positive_data_acceptance names an operation that exists."""
    operations = {(r.ok().method.upper(), r.ok().path) for r in schema.get_all_operations()}
    assert set(STATE_DEPENDENT) - operations == set()
    assert DESTRUCTIVE - operations == set()


# --------------------------------------------------------------------------- one documented success per family
DOCUMENT = openapi_document()
#: route family -> (method, path) of its documented positive request, sent with the document's own
#: request example (real ids put in); the answer must be the documented status and body schema
FAMILIES: dict[str, tuple[str, str]] = {
    "/v2/definitions": ("POST", "/v2/definitions/metrics"),
    "/v2/sites": ("POST", "/v2/sites"),
    "/v2/fleets": ("GET", "/v2/fleets"),
    "/v2/things": ("GET", "/v2/things/{thingId}/latest-event"),
    "/v2/thing": ("POST", "/v2/thing/{thingId}/data"),
    "/v2/templates": ("POST", "/v2/templates"),
    "/v2/transactions": ("GET", "/v2/transactions"),
    "/v2/api-keys": ("POST", "/v2/api-keys"),
    "/v2/integrations": ("GET", "/v2/integrations"),
    "/v2/buckets": ("POST", "/v2/buckets"),
    "/v2/data-streams": ("POST", "/v2/data-streams"),
    "/v2/buildings": ("POST", "/v2/buildings"),
    "/v2/rooms": ("POST", "/v2/rooms/{roomId}/sensors"),
    "/v2/sensors": ("POST", "/v2/sensors/{sensorId}/rotate-key"),
    "/api/data": ("POST", "/api/data"),
    "/api/streams": ("POST", "/api/streams/ingest"),
    "/ingestion/v1": ("POST", "/ingestion/v1/measurements"),
}


def _family(path: str) -> str:
    return "/".join(path.split("/")[:3])  # /v2/sites, /api/data, /ingestion/v1


def test_every_route_family_of_the_document_has_a_documented_success_over_http() -> None:
    families = {_family(path) for path in DOCUMENT["paths"]}
    assert families - set(FAMILIES) == set(), "route families without an e2e documented success in FAMILIES"


def _example(method: str, path: str) -> Any:
    media = DOCUMENT["paths"][path][method.lower()].get("requestBody", {}).get("content", {}).get("application/json")
    if media is None:
        return None
    return next(iter(media["examples"].values()))["value"]


def _real(body: Any, method: str, path: str, world: World) -> Any:
    """The document's example, with the world's ids and credentials where it names its own."""
    if path == "/v2/definitions/metrics":
        return {**body, "name": f"m{uuid.uuid4().hex[:8]}"}
    if path == "/v2/templates":
        spec = {**body["spec"], "mappings": [{**body["spec"]["mappings"][0], "metricId": world.ids["metricId"]}]}
        return {**body, "spec": spec}
    if path == "/v2/thing/{thingId}/data":
        return {"frames": [{**body["frames"][0], "metrics": {"soc": 87.4}}]}
    if path == "/api/data":
        return {
            **body,
            "bucketId": world.ids["bucketId"],
            "dataSourceId": world.ids["dataSourceId"],
            "values": {"v": 22.5},
        }
    if path == "/api/streams/ingest":
        return {**body, "data_stream_token": world.stream_token}
    if path == "/ingestion/v1/measurements":
        return {
            **body,
            "sensorId": world.ids["sensorId"],
            "readings": [r for r in body["readings"] if r["parameterCode"] == "co2"],
        }
    return body


@pytest.mark.parametrize("family", sorted(FAMILIES))
def test_a_documented_request_of_each_family_succeeds_as_documented(family: str, world: World) -> None:
    method, path = FAMILIES[family]
    ids = world.path_ids(method, path)
    url = world.url + re.sub(r"\{(\w+)\}", lambda m: ids[m.group(1)], path)
    example = _example(method, path)
    body = _real(example, method, path, world) if example is not None else None
    headers = {"X-Sensor-Key": world.sensor_key} if path.startswith("/ingestion/") else {"X-Api-Key": world.key}
    query = (
        {"type": "charge", "start": "2024-06-21T00:00:00Z", "end": "2024-06-22T00:00:00Z"}
        if path == "/v2/transactions"
        else None
    )
    answer = world.plain.request(method, url, json=body, headers=headers, params=query, timeout=30)
    documented = sorted(s for s in DOCUMENT["paths"][path][method.lower()]["responses"] if s.startswith("2"))
    assert str(answer.status_code) in documented, (method, path, answer.status_code, answer.text)
    assert_documented_answer(
        DOCUMENT,
        method,
        path,
        answer.status_code,
        answer.headers.get("Content-Type"),
        answer.json() if answer.content else None,
    )


# --------------------------------------------------------------------------- stateful: the document's links
#: `make test`: a few short seeded sequences; `make fuzz`: FUZZ_EXAMPLES // 10 sequences of up to 10 steps
STATEFUL_SEQUENCES = max(EXAMPLES // 10, 20) if LONG else 4
STATEFUL_STEPS = 10 if LONG else 5
STATEFUL_CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    response_headers_conformance,
    ensure_resource_availability,  # what a create answered is there for the linked GET
    use_after_free,  # what a DELETE removed is gone (templates: a soft delete, see below)
]
#: a deleted template stays readable with ``status: deleted`` (docs/templates.md), so a GET after
#: its DELETE is 200 by design, not a use after free
SOFT_DELETED = ("/v2/templates/{templateId}",)


def test_the_document_links_every_create_to_the_operations_on_its_id() -> None:
    links = {
        (path, target["operationId"])
        for path, item in DOCUMENT["paths"].items()
        for op in item.values()
        for target in op["responses"].get("201", {}).get("links", {}).values()
    }
    creates = {path for path, _ in links}
    assert {
        "/v2/definitions/metrics",
        "/v2/definitions/thing-types",
        "/v2/sites",
        "/v2/fleets",
        "/v2/sites/{placeId}/things",
        "/v2/templates",
        "/v2/integrations",
        "/v2/api-keys",
        "/v2/buckets",
        "/v2/buildings",
        "/v2/rooms/{roomId}/sensors",
        "/v2/data-streams",
    } <= creates
    assert ("/v2/sites/{placeId}/things", "get_thing_v2_things__thingId__get") in links
    assert ("/v2/templates", "apply_template_v2_thing__thingId__data_template__templateId__post") in links
    assert ("/v2/buckets", "query_api_data_get") in links


def test_stateful_sequences_follow_the_links(world: World, local_stack: Any) -> None:
    machine = schema.as_state_machine()

    class Workflow(machine):  # type: ignore[misc, valid-type]
        def before_call(self, case: Any) -> None:
            self._headers, self._excluded = prepare(case, world, world_ids=False)

        def get_call_kwargs(self, case: Any) -> dict[str, Any]:
            return {"base_url": local_stack.url, "session": world.plain, "headers": self._headers, "timeout": 30}

        def validate_response(self, response: Any, case: Any, additional_checks: Any = None, **kwargs: Any) -> None:
            excluded = list(self._excluded)
            if case.operation.path in SOFT_DELETED:
                excluded.append(use_after_free)
            case.validate_response(
                response,
                checks=STATEFUL_CHECKS,
                excluded_checks=excluded,
                transport_kwargs=kwargs,
                recorder=self.recorder,
            )

    try:
        Workflow.run(
            settings=settings(
                max_examples=STATEFUL_SEQUENCES,
                stateful_step_count=STATEFUL_STEPS,
                derandomize=not LONG,
                deadline=None,
                database=None,
                suppress_health_check=list(HealthCheck),
            )
        )
    except Exception as failure:
        failure.add_note(f"replay: SCHEMATHESIS_SEED={SEED} FUZZ_EXAMPLES={EXAMPLES}" if LONG else f"seed {SEED}")
        raise
