"""The tenancy matrix: every route of every dialect, enumerated from template.yaml, asked by the
owner, by another organization's key and by keys whose resource filters leave the resource out.

Rules (docs/api.md, docs/ambiquality.md, docs/cloudthread.md, docs/dakkio.md, docs/templates.md):

* ``ADDRESSED`` - a route naming a resource of the owner (in its path, or ``bucketId`` in the body
  or query): the owner succeeds; another organization and a filtered key outside its filter get
  404 in the dialect's not-found shape (``{"error": "Not Found", ...}`` on ``/api/...``,
  problem+json elsewhere), exactly as for an id that does not exist.
* ``LIST`` - an organization-wide listing: everyone gets 200, and the owner's resource appears
  only in the owner's list.
* ``CREATE`` - creates an organization-level resource (place, bucket, building, data stream
  token): another organization creates its own; a filtered key is refused 403, as documented (it
  would widen its own reach).
* ``SHARED`` - definitions (metrics, thing types, templates) belong to no place or thing: a
  filtered key of the organization may use them, another organization gets 404 (or, creating, its own).
* ``SHARED_LIST`` - the listing of such definitions: a filtered key of the organization sees
  them, another organization does not.
* ``ORG_DATA`` - organization-wide data named in the organization's own namespace (a stream
  metric, a transaction type): another organization asking the same name reads its own, empty
  data; a filtered key gets 404 (the data belongs to no place or thing it may see).
* ``CREDENTIAL`` - ``Auth: NONE`` ingest routes whose credential is itself the resource (sensor
  key, data stream token, an integration's webhook signature): the owner's credential succeeds,
  any platform key is refused 401.
* ``PUBLIC`` - the parameter catalog: no tenant data at all.

A route in template.yaml without an entry here fails the suite.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import orjson
import pytest

from tests.integration.conftest import Answer, Platform, drain
from tests.support import assert_documented_answer, integrations_template, openapi_document

WEBHOOK_SECRET = "tm-webhook-secret"
T0 = "2024-06-21T08:00:00Z"
T0_MS = 1718956800000
DOCUMENT = openapi_document()
ADDRESSED, LIST, CREATE, SHARED, CREDENTIAL, PUBLIC = "addressed", "list", "create", "shared", "credential", "public"
SHARED_LIST, ORG_DATA = "shared-list", "org-data"


@dataclass
class Case:
    kind: str
    ok: int  #: the owner's documented success status
    body: Callable[[dict[str, Any]], Any] | None = None
    query: Callable[[dict[str, Any]], dict[str, str]] | None = None
    #: how the request carries its credential: X-Api-Key through the authorizer, the dialect's own
    #: X-API-Key header, the sensor key header or a body token
    auth: str = "platform"
    #: the id the owner's listing must contain (LIST)
    listed: str = ""
    #: ids to put into the path, by path parameter (default: the world's id of that name)
    ids: dict[str, str] = field(default_factory=dict)
    #: another organization's answer when not the kind's default (e.g. 400: a body that names the
    #: owner's metric, which does not exist in the other organization)
    other: int = 0


def _frames(_: dict[str, Any]) -> Any:
    return {"frames": [{"timestamp": T0_MS, "metrics": {"soc": 1}}]}


def _point(w: dict[str, Any]) -> dict[str, Any]:
    return {"bucketId": w["bucketId"], "dataSourceId": w["dataSourceId"], "timestamp": T0, "values": {"v": 1.5}}


TX_SPEC: dict[str, Any] = {
    "recordsPointer": "/tx",
    "timestamp": {"source": {"pointer": "/at"}, "format": "iso8601"},
    "id": {"pointer": "/id"},
    "type": {"pointer": "/kind", "default": "charge"},
    "amount": {"pointer": "/amt"},
    "currency": {"pointer": "/cur", "default": "USD"},
}
WINDOW = {"start": "2024-06-21T00:00:00Z", "end": "2024-06-22T00:00:00Z"}

MATRIX: dict[tuple[str, str], Case] = {
    # ------------------------------------------------------------ platform: definitions
    ("POST", "/v2/definitions/metrics"): Case(
        SHARED,
        201,
        body=lambda w: {"name": f"m{uuid.uuid4().hex[:8]}", "dataType": "Int", "defaultAggregation": "Last"},
    ),
    ("GET", "/v2/definitions/metrics"): Case(SHARED_LIST, 200, listed="metricId"),
    ("GET", "/v2/definitions/metrics/{metricId}"): Case(SHARED, 200),
    ("POST", "/v2/definitions/thing-types"): Case(
        SHARED, 201, body=lambda w: {"displayName": "X", "metricIds": [w["metricId"]]}, other=400
    ),
    ("GET", "/v2/definitions/thing-types"): Case(SHARED_LIST, 200, listed="thingTypeId"),
    ("GET", "/v2/definitions/thing-types/{thingTypeId}"): Case(SHARED, 200),
    ("POST", "/v2/definitions/thing-types/{thingTypeId}/versions"): Case(
        SHARED, 201, body=lambda w: {"metricIds": [w["metricId"]]}
    ),
    # ------------------------------------------------------------ platform: places and things
    ("POST", "/v2/sites"): Case(CREATE, 201, body=lambda w: {"name": "S2"}),
    ("GET", "/v2/sites"): Case(LIST, 200, listed="siteId"),
    ("GET", "/v2/sites/{placeId}"): Case(ADDRESSED, 200, ids={"placeId": "siteId"}),
    ("POST", "/v2/fleets"): Case(CREATE, 201, body=lambda w: {"name": "F2"}),
    ("GET", "/v2/fleets"): Case(LIST, 200, listed="fleetId"),
    ("GET", "/v2/fleets/{placeId}"): Case(ADDRESSED, 200, ids={"placeId": "fleetId"}),
    ("POST", "/v2/sites/{placeId}/things"): Case(
        ADDRESSED, 201, body=lambda w: {"thingName": "n"}, ids={"placeId": "siteId"}
    ),
    ("POST", "/v2/sites/{placeId}/things/bulk"): Case(
        ADDRESSED,
        201,
        body=lambda w: [{"thingName": "b"}],
        ids={"placeId": "siteId"},
    ),
    ("GET", "/v2/sites/{placeId}/things"): Case(ADDRESSED, 200, ids={"placeId": "siteId"}),
    ("POST", "/v2/fleets/{placeId}/things"): Case(
        ADDRESSED, 201, body=lambda w: {"thingName": "n"}, ids={"placeId": "fleetId"}
    ),
    ("POST", "/v2/fleets/{placeId}/things/bulk"): Case(
        ADDRESSED,
        201,
        body=lambda w: [{"thingName": "b"}],
        ids={"placeId": "fleetId"},
    ),
    ("GET", "/v2/fleets/{placeId}/things"): Case(ADDRESSED, 200, ids={"placeId": "fleetId"}),
    ("GET", "/v2/things/{thingId}"): Case(ADDRESSED, 200),
    ("POST", "/v2/thing/{thingId}/data"): Case(ADDRESSED, 200, body=_frames),
    ("GET", "/v2/things/{thingId}/latest-event"): Case(ADDRESSED, 200),
    ("GET", "/v2/things/{thingId}/history"): Case(ADDRESSED, 200, query=lambda w: dict(WINDOW)),
    ("GET", "/v2/things/{thingId}/aggregates"): Case(ADDRESSED, 200, query=lambda w: {"interval": "1h", **WINDOW}),
    # ------------------------------------------------------------ ambiquality (operator API + ingestion)
    ("POST", "/v2/buildings"): Case(CREATE, 201, body=lambda w: {"name": "HQ2"}),
    ("GET", "/v2/buildings"): Case(LIST, 200, listed="buildingId"),
    ("GET", "/v2/buildings/{buildingId}"): Case(ADDRESSED, 200),
    ("POST", "/v2/buildings/{buildingId}/rooms"): Case(ADDRESSED, 201, body=lambda w: {"name": "R2"}),
    ("GET", "/v2/buildings/{buildingId}/rooms"): Case(ADDRESSED, 200),
    ("GET", "/v2/rooms/{roomId}"): Case(ADDRESSED, 200),
    ("POST", "/v2/rooms/{roomId}/sensors"): Case(ADDRESSED, 201, body=lambda w: {"name": "S", "parameters": ["co2"]}),
    ("GET", "/v2/rooms/{roomId}/sensors"): Case(ADDRESSED, 200),
    ("GET", "/v2/sensors/{sensorId}"): Case(ADDRESSED, 200),
    ("PATCH", "/v2/sensors/{sensorId}"): Case(ADDRESSED, 200, body=lambda w: {"name": "renamed"}),
    ("POST", "/v2/sensors/{sensorId}/rotate-key"): Case(ADDRESSED, 200, ids={"sensorId": "spareSensorId"}),
    ("POST", "/ingestion/v1/measurements"): Case(
        CREDENTIAL,
        202,
        body=lambda w: {"sensorId": w["sensorId"], "readings": [{"parameterCode": "co2", "value": 812, "unit": "ppm"}]},
        auth="sensor",
    ),
    ("GET", "/ingestion/v1/parameters"): Case(PUBLIC, 200, auth="none"),
    # ------------------------------------------------------------ cloudthread (streams)
    ("POST", "/v2/data-streams"): Case(CREATE, 201, body=lambda w: {"name": "costs2"}),
    ("GET", "/v2/data-streams"): Case(LIST, 200, listed="streamId"),
    ("DELETE", "/v2/data-streams/{streamId}"): Case(ADDRESSED, 204, ids={"streamId": "spareStreamId"}),
    ("POST", "/api/streams/ingest"): Case(
        CREDENTIAL,
        201,
        body=lambda w: {
            "data_stream_token": w["streamToken"],
            "metric_agg_func": "Sum",
            "data": [{"timestamp": "2024-06-21 08:00:00", "metric_name": "cost", "metric_value": 2}],
        },
        auth="token",
    ),
    ("GET", "/v2/data-streams/metrics"): Case(LIST, 200, listed="streamMetric"),
    ("GET", "/v2/data-streams/metrics/{metricName}"): Case(
        ORG_DATA, 200, ids={"metricName": "streamMetric"}, query=lambda w: dict(WINDOW)
    ),
    # ------------------------------------------------------------ dakkio (buckets)
    ("POST", "/v2/buckets"): Case(CREATE, 201, body=lambda w: {"name": "b2"}),
    ("GET", "/v2/buckets"): Case(LIST, 200, listed="bucketId"),
    ("GET", "/v2/buckets/{bucketId}"): Case(ADDRESSED, 200),
    ("POST", "/v2/buckets/{bucketId}/data-sources"): Case(
        ADDRESSED, 201, body=lambda w: {"name": "d2", "schema": {"v": {"type": "number"}}}
    ),
    ("GET", "/v2/buckets/{bucketId}/data-sources"): Case(ADDRESSED, 200),
    ("POST", "/api/data"): Case(ADDRESSED, 201, body=_point, auth="dakkio"),
    ("POST", "/api/data/batch"): Case(
        ADDRESSED,
        201,
        body=lambda w: {
            "bucketId": w["bucketId"],
            "dataPoints": [{k: v for k, v in _point(w).items() if k != "bucketId"}],
        },
        auth="dakkio",
    ),
    ("GET", "/api/data"): Case(ADDRESSED, 200, query=lambda w: {"bucketId": w["bucketId"]}, auth="dakkio"),
    # ------------------------------------------------------------ templates and transactions
    ("GET", "/v2/templates"): Case(SHARED_LIST, 200, listed="templateId"),
    ("GET", "/v2/templates/{templateId}"): Case(SHARED, 200),
    ("POST", "/v2/templates"): Case(SHARED, 201, body=lambda w: w["templateBody"], other=400),
    ("PUT", "/v2/templates/{templateId}"): Case(SHARED, 200, body=lambda w: {"name": "renamed"}),
    ("DELETE", "/v2/templates/{templateId}"): Case(SHARED, 200, ids={"templateId": "spareTemplateId"}),
    ("POST", "/v2/templates/{templateId}/test"): Case(SHARED, 200, body=lambda w: {"readings": [{"ts": 1, "v": 2}]}),
    ("POST", "/v2/thing/{thingId}/data/template/{templateId}"): Case(
        ADDRESSED, 200, body=lambda w: {"readings": [{"ts": 1718956800000, "v": 2}]}
    ),
    ("POST", "/v2/transactions/template/{templateId}"): Case(
        CREATE, 200, body=lambda w: {"tx": [{"at": T0, "id": "c9", "amt": 1}]}, ids={"templateId": "txTemplateId"}
    ),
    ("GET", "/v2/transactions"): Case(ORG_DATA, 200, query=lambda w: {"type": "charge", **WINDOW}),
    # ------------------------------------------------------------ integrations (a thing's reach: its mapped things)
    # another organization's create names the owner's template and thing: the template is refused first (400)
    ("POST", "/v2/integrations"): Case(ADDRESSED, 201, body=lambda w: w["integrationBody"], other=400),
    ("GET", "/v2/integrations"): Case(LIST, 200, listed="integrationId"),
    ("GET", "/v2/integrations/{integrationId}"): Case(ADDRESSED, 200),
    ("PUT", "/v2/integrations/{integrationId}"): Case(
        ADDRESSED, 200, body=lambda w: {**w["integrationBody"], "name": "renamed"}
    ),
    ("DELETE", "/v2/integrations/{integrationId}"): Case(ADDRESSED, 204, ids={"integrationId": "spareIntegrationId"}),
    ("POST", "/v2/integrations/{integrationId}/runs"): Case(ADDRESSED, 202),
    ("GET", "/v2/integrations/{integrationId}/runs"): Case(ADDRESSED, 200),
    # signed by the provider (no API key): the owner's integration's signature is the credential
    ("POST", "/v2/integrations/{integrationId}/webhook"): Case(
        CREDENTIAL,
        202,
        body=lambda w: {"event": "trip_end", "trip_key": uuid.uuid4().hex},
        auth="webhook",
        ids={"integrationId": "webhookIntegrationId"},
    ),
    # ------------------------------------------------------------ API keys (an unlimited key's reach is its org)
    ("POST", "/v2/api-keys"): Case(CREATE, 201, body=lambda w: {"name": "k2", "scopes": ["metrics:read"]}),
    ("GET", "/v2/api-keys"): Case(LIST, 200, listed="keyId"),
    ("GET", "/v2/api-keys/{keyId}"): Case(ADDRESSED, 200),
    ("DELETE", "/v2/api-keys/{keyId}"): Case(ADDRESSED, 204, ids={"keyId": "spareKeyId"}),
}


class World:
    """One organization with one of everything, built through the API, plus the keys that ask."""

    def __init__(self, p: Platform) -> None:
        self.p = p
        tag = uuid.uuid4().hex[:8]
        self.owner = p.key(f"tm-owner-{tag}")
        self.other = p.key(f"tm-other-{tag}")
        ids: dict[str, Any] = {}
        ok = self.ok
        ids["metricId"] = ok(
            "POST", "/v2/definitions/metrics", {"name": "soc", "dataType": "Double", "defaultAggregation": "Last"}
        )["id"]
        ids["thingTypeId"] = ok(
            "POST", "/v2/definitions/thing-types", {"displayName": "B", "metricIds": [ids["metricId"]]}
        )["id"]
        ids["siteId"] = ok("POST", "/v2/sites", {"name": "S"})["id"]
        ids["fleetId"] = ok("POST", "/v2/fleets", {"name": "F"})["id"]
        typed = {"thingName": "t", "thingTypeId": ids["thingTypeId"]}
        ids["thingId"] = ok("POST", f"/v2/sites/{ids['siteId']}/things", typed)["id"]
        ok("POST", f"/v2/fleets/{ids['fleetId']}/things", typed)
        # what the filtered keys may see: a place of their own, and a thing in it
        inside = ok("POST", "/v2/sites", {"name": "inside"})["id"]
        inside_thing = ok("POST", f"/v2/sites/{inside}/things", typed)["id"]
        self.filtered = {
            "places": p.key(f"tm-owner-{tag}", places=[inside]),
            "things": p.key(f"tm-owner-{tag}", things=[inside_thing]),
        }
        ok("POST", f"/v2/thing/{ids['thingId']}/data", _frames(ids))
        # ambiquality
        ids["buildingId"] = ok("POST", "/v2/buildings", {"name": "HQ"})["id"]
        ids["roomId"] = ok("POST", f"/v2/buildings/{ids['buildingId']}/rooms", {"name": "R"})["id"]
        sensor = ok("POST", f"/v2/rooms/{ids['roomId']}/sensors", {"name": "S", "parameters": ["co2"]})
        ids["sensorId"], self.sensor_key = sensor["id"], sensor["secretKey"]
        ids["spareSensorId"] = ok("POST", f"/v2/rooms/{ids['roomId']}/sensors", {"name": "S", "parameters": ["co2"]})[
            "id"
        ]
        # streams
        stream = ok("POST", "/v2/data-streams", {"name": "costs"})
        ids["streamId"], ids["streamToken"] = stream["id"], stream["token"]
        ids["spareStreamId"] = ok("POST", "/v2/data-streams", {"name": "spare"})["id"]
        ids["streamMetric"] = "cost"
        ingest = MATRIX[("POST", "/api/streams/ingest")].body
        assert ingest is not None
        assert p.call("POST", "/api/streams/ingest", ingest(ids)).status == 201
        # buckets
        ids["bucketId"] = ok("POST", "/v2/buckets", {"name": "home"})["id"]
        source = ok(
            "POST", f"/v2/buckets/{ids['bucketId']}/data-sources", {"name": "d", "schema": {"v": {"type": "number"}}}
        )
        ids["dataSourceId"] = source["id"]
        assert p.call("POST", "/api/data", _point(ids), headers={"X-API-Key": self.owner}).status == 201
        # templates
        spec = {
            "recordsPointer": "/readings",
            "timestamp": {"source": {"pointer": "/ts"}, "format": "epoch_ms"},
            "mappings": [{"metricId": ids["metricId"], "source": {"pointer": "/v"}}],
        }
        ids["templateBody"] = {"name": "tm", "target": "ThingData", "format": "JsonPointer", "spec": spec}
        ids["templateId"] = ok("POST", "/v2/templates", ids["templateBody"])["id"]
        ids["spareTemplateId"] = ok("POST", "/v2/templates", ids["templateBody"])["id"]
        tx = {"name": "tx", "target": "Transactions", "format": "JsonPointer", "spec": TX_SPEC}
        ids["txTemplateId"] = ok("POST", "/v2/templates", tx)["id"]
        ok("POST", f"/v2/transactions/template/{ids['txTemplateId']}", {"tx": [{"at": T0, "id": "c1", "amt": 1}]})
        # integrations: an Integrations template (stored directly until the target's validation
        # lands: POST /v2/templates refuses it as not supported yet), an integration on the thing
        ids["integrationTemplateId"] = integrations_template(self.owner)
        ids["integrationBody"] = {
            "name": "fleet",
            "provider": "geotab",
            "connection": {"server": "my.geotab.com", "database": "acme", "feeds": ["StatusData"]},
            "credentials": {"userName": "svc@acme.example", "password": "tm-not-real"},
            "resources": [{"externalId": "b1", "thingId": ids["thingId"]}],
            "templateId": ids["integrationTemplateId"],
        }
        ids["integrationId"] = ok("POST", "/v2/integrations", ids["integrationBody"])["id"]
        ids["spareIntegrationId"] = ok("POST", "/v2/integrations", ids["integrationBody"])["id"]
        zubie = {
            **ids["integrationBody"],
            "provider": "zubie",
            "connection": {},
            "credentials": {"apiKey": "tm-not-real", "webhookSecret": WEBHOOK_SECRET},
        }
        ids["webhookIntegrationId"] = ok("POST", "/v2/integrations", zubie)["id"]
        # API keys (unlimited: outside every filtered key's reach)
        ids["keyId"] = ok("POST", "/v2/api-keys", {"name": "k", "scopes": ["metrics:read"]})["id"]
        ids["spareKeyId"] = ok("POST", "/v2/api-keys", {"name": "spare", "scopes": ["metrics:read"]})["id"]
        drain(p)
        self.ids = ids

    def ok(self, method: str, path: str, body: Any = None) -> Any:
        answer = self.p.call(method, path, body, key=self.owner)
        assert answer.status in (200, 201), (method, path, answer)
        return answer.body

    def ask(self, method: str, template: str, key: str | None) -> Answer:
        case = MATRIX[(method, template)]
        ids = {**self.ids, **{name: self.ids[ref] for name, ref in case.ids.items()}}
        path = re.sub(r"\{(\w+)\}", lambda m: str(ids[m.group(1)]), template)
        body = case.body(self.ids) if case.body else None
        query = case.query(self.ids) if case.query else None
        if case.auth == "webhook":  # the provider signs; a platform key carries no signature
            raw = orjson.dumps(body)
            signed = base64.b64encode(hmac.new(WEBHOOK_SECRET.encode(), raw, hashlib.sha256).digest()).decode()
            return self.p.call(method, path, raw, key=key, headers={} if key else {"Zubie-Signature": signed})
        if case.auth == "dakkio":
            return self.p.call(method, path, body, headers={"X-API-Key": key} if key else {}, query=query)
        if case.auth == "sensor" and key is None:
            return self.p.call(method, path, body, headers={"X-Sensor-Key": self.sensor_key}, query=query)
        if case.auth == "token" and key is not None and isinstance(body, dict):  # a platform key instead
            body = {k: v for k, v in body.items() if k != "data_stream_token"}
            return self.p.call(method, path, body, key=key, query=query)
        return self.p.call(method, path, body, key=key, query=query)


@pytest.fixture(scope="module")
def world(platform: Platform) -> World:
    return World(platform)


def assert_not_found(answer: Answer, template: str) -> None:
    assert answer.status == 404, answer
    if template.startswith("/api/data"):
        assert answer.body["error"] == "Not Found" and answer.body["message"] in (
            "Bucket not found",
            "Data source not found",
        ), answer.body
        return
    assert answer.header("Content-Type") == "application/problem+json", answer
    assert answer.body["status"] == 404 and answer.body["type"].endswith(":not-found"), answer.body


def listed_ids(answer: Answer) -> set[str]:
    items = answer.body["items"]
    return {str(i.get("id") or i.get("metricName")) for i in items}


def test_every_route_of_the_template_is_in_the_matrix(platform: Platform) -> None:
    routes = {(r.method, r.path) for r in platform.template.api_routes()}
    assert routes - set(MATRIX) == set(), "routes without a tenancy matrix entry"
    assert set(MATRIX) - routes == set(), "matrix entries for routes that are not deployed"


ROUTES = sorted(MATRIX)


@pytest.mark.parametrize(("method", "template"), ROUTES)
def test_another_organization(world: World, method: str, template: str) -> None:
    case = MATRIX[(method, template)]
    answer = world.ask(method, template, world.other)
    if case.other:
        assert answer.status == case.other, answer
        assert "does not exist" in str(answer.body), answer.body  # the owner's metric is not theirs
    elif case.kind in (ADDRESSED,) or (case.kind == SHARED and "{" in template):
        assert_not_found(answer, template)
    elif case.kind == ORG_DATA:
        assert answer.status == 200, answer
        assert not answer.body.get("groups") and not answer.body.get("transactions"), answer.body
    elif case.kind in (LIST, SHARED_LIST):
        assert answer.status == 200, answer
        assert world.ids[case.listed] not in listed_ids(answer)
    elif case.kind in (CREATE, SHARED):  # creates in the caller's own organization
        if template.startswith("/v2/transactions/"):
            assert_not_found(answer, template)  # the template is the owner's
        else:
            assert answer.status == case.ok, answer
    elif case.kind == CREDENTIAL:
        assert answer.status == 401, answer
    else:
        assert answer.status == case.ok, answer


@pytest.mark.parametrize("flavour", ["places", "things"])
@pytest.mark.parametrize(("method", "template"), ROUTES)
def test_a_filtered_key_outside_its_filter(world: World, method: str, template: str, flavour: str) -> None:
    case = MATRIX[(method, template)]
    answer = world.ask(method, template, world.filtered[flavour])
    if case.kind in (ADDRESSED, ORG_DATA):
        assert_not_found(answer, template)
    elif case.kind == LIST:
        assert answer.status == 200, answer
        assert world.ids[case.listed] not in listed_ids(answer)
    elif case.kind == SHARED_LIST:
        assert answer.status == 200, answer
        assert world.ids[case.listed] in listed_ids(answer)
    elif case.kind == CREATE:
        assert answer.status == 403, answer
        assert "filters" in (answer.body.get("detail") or answer.body.get("message") or ""), answer.body
    elif case.kind == CREDENTIAL:
        assert answer.status == 401, answer
    else:  # SHARED definitions and the public catalog
        assert answer.status == case.ok, answer


@pytest.mark.parametrize(("method", "template"), ROUTES)
def test_the_owner_succeeds(world: World, method: str, template: str) -> None:
    case = MATRIX[(method, template)]
    key = None if case.auth in ("sensor", "token", "none", "webhook") else world.owner
    answer = world.ask(method, template, key)
    assert answer.status == case.ok, answer
    # the documented status, media type and body shape (shared/openapi.json)
    assert_documented_answer(DOCUMENT, method, template, answer.status, answer.header("Content-Type"), answer.body)
    if case.kind in (LIST, SHARED_LIST):
        assert world.ids[case.listed] in listed_ids(answer), answer.body
    if case.kind == ORG_DATA:
        assert answer.body.get("groups") or answer.body.get("transactions"), answer.body


def test_every_documented_operation_has_a_positive_case() -> None:
    """Each operation of shared/openapi.json is asked successfully by its owner above
    (``test_the_owner_succeeds``: the documented status, through the real handler and authorizer);
    an operation added to the document without a matrix entry fails here."""
    import json
    from pathlib import Path

    document = json.loads((Path(__file__).resolve().parents[2] / "shared" / "openapi.json").read_text())
    operations = {
        (method.upper(), path)
        for path, item in document["paths"].items()
        for method in item
        if method in ("get", "post", "put", "patch", "delete")
    }
    assert operations - set(MATRIX) == set(), "documented operations without a positive case"
    for key, case in MATRIX.items():
        if key in operations:
            documented = document["paths"][key[1]][key[0].lower()]["responses"]
            assert str(case.ok) in documented, (key, case.ok)
