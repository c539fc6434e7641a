"""Template endpoints through the real routing, authorizer and handlers, under moto (in-process).

Every route's refusals (no key 401, key without the scope 403, another organization's template
404), the HTTP mapping of every management and apply outcome, and readings/transactions that
reach the ReadingStore through the queue and the writer.
"""

from __future__ import annotations

import re
from typing import Any

import pytest

from tests.integration.conftest import Platform, drain

T0 = 1718884800000
ISO0 = "2024-06-20T12:00:00Z"

#: every template route, with the scope it needs
ROUTES: dict[tuple[str, str], str] = {
    ("GET", "/v2/templates"): "templates:read",
    ("POST", "/v2/templates"): "templates:write",
    ("GET", "/v2/templates/{templateId}"): "templates:read",
    ("PUT", "/v2/templates/{templateId}"): "templates:write",
    ("DELETE", "/v2/templates/{templateId}"): "templates:write",
    ("POST", "/v2/templates/{templateId}/test"): "templates:write",  # it runs the template's code (issue 8.10)
    ("POST", "/v2/thing/{thingId}/data/template/{templateId}"): "data:write",
    ("POST", "/v2/transactions/template/{templateId}"): "data:write",
    ("GET", "/v2/transactions"): "data:read",
}

TX_SPEC: dict[str, Any] = {
    "recordsPointer": "/tx",
    "timestamp": {"source": {"pointer": "/at"}, "format": "iso8601"},
    "id": {"pointer": "/id"},
    "type": {"pointer": "/kind", "default": "charge"},
    "amount": {"pointer": "/amt"},
    "currency": {"pointer": "/cur", "default": "USD"},
}


class Org:
    """An organization with metrics, a typed thing, an untyped thing and two templates, via the API."""

    def __init__(self, p: Platform, name: str) -> None:
        self.p = p
        self.key = p.key(name)
        self.m = {}
        for metric, dtype in (("voltage", "Double"), ("mode", "String"), ("torque", "Double")):
            body = {"name": metric, "dataType": dtype, "defaultAggregation": "Last"}
            self.m[metric] = self.ok("POST", "/v2/definitions/metrics", body)["id"]
        self.type_id = self.ok(
            "POST",
            "/v2/definitions/thing-types",
            {"displayName": "B", "metricIds": [self.m["voltage"], self.m["mode"]]},
        )["id"]
        self.site = self.ok("POST", "/v2/sites", {"name": "S"})["id"]
        self.thing = self.new_thing(self.type_id)
        self.untyped = self.ok("POST", f"/v2/sites/{self.site}/things", {"thingName": "bare"})["id"]
        self.template = self.ok("POST", "/v2/templates", self.thing_template())
        self.tx_template = self.ok(
            "POST", "/v2/templates", {"name": "tx", "target": "Transactions", "format": "JsonPointer", "spec": TX_SPEC}
        )

    def new_thing(self, type_id: str) -> str:
        body = {"thingName": "t", "thingTypeId": type_id}
        return str(self.ok("POST", f"/v2/sites/{self.site}/things", body)["id"])

    def thing_template(self, **changes: Any) -> dict[str, Any]:
        spec = {
            "recordsPointer": "/readings",
            "timestamp": {"source": {"pointer": "/ts"}, "format": "epoch_ms"},
            "mappings": [
                {"metricId": self.m["voltage"], "source": {"pointer": "/v"}, "transform": {"scale": 0.1, "offset": 0}},
                {"metricId": self.m["mode"], "source": {"pointer": "/mode"}, "default": "auto"},
                {"metricId": self.m["torque"], "source": {"pointer": "/tq"}},
            ],
            **changes,
        }
        return {"name": "Acme v1", "target": "ThingData", "format": "JsonPointer", "spec": spec}

    def call(self, method: str, path: str, body: Any = None, **query: Any) -> Any:
        return self.p.call(method, path, body, key=self.key, query=query or None)

    def ok(self, method: str, path: str, body: Any = None, **query: Any) -> Any:
        answer = self.call(method, path, body, **query)
        assert answer.status in (200, 201), (method, path, answer)
        return answer.body

    def path(self, template: str) -> str:
        tmpl = self.tx_template if template.startswith("/v2/transactions/") else self.template
        ids = {"templateId": tmpl["id"], "thingId": self.thing}
        return re.sub(r"\{(\w+)\}", lambda m: ids[m.group(1)], template)

    def body(self, method: str, template: str) -> Any:
        """A valid body, so that a refusal is about the key, not the payload."""
        if template == "/v2/templates" and method == "POST":
            return self.thing_template()
        if method == "PUT":
            return {"name": "renamed"}
        if method == "POST":
            return {"tx": []} if template.startswith("/v2/transactions/") else {"readings": []}
        return None


@pytest.fixture(scope="module")
def acme(platform: Platform) -> Org:
    return Org(platform, "acme-templates")


@pytest.fixture(scope="module")
def globex(platform: Platform) -> Org:
    return Org(platform, "globex-templates")


def query_for(template: str) -> dict[str, str] | None:
    return {"type": "charge"} if template == "/v2/transactions" else None


def problem(answer: Any, status: int, reason: str | None = None) -> dict[str, Any]:
    assert answer.status == status, answer
    assert answer.header("Content-Type") == "application/problem+json"
    if reason:
        assert answer.body["type"] == f"urn:telemetry:problem:{reason}", answer.body
    assert answer.body["status"] == status
    return dict(answer.body)


# --------------------------------------------------------------------------- refusals


def test_every_template_route_is_deployed_behind_the_authorizer(platform: Platform) -> None:
    routes = {(r.method, r.path) for r in platform.template.api_routes() if r.authorizer}
    assert set(ROUTES) <= routes


@pytest.mark.parametrize(("method", "template"), list(ROUTES))
def test_no_key_is_401(platform: Platform, acme: Org, method: str, template: str) -> None:
    for key in (None, "avy_not-a-real-key"):
        answer = platform.call(
            method, acme.path(template), acme.body(method, template), key=key, query=query_for(template)
        )
        problem(answer, 401)


@pytest.mark.parametrize(("method", "template"), list(ROUTES))
def test_a_key_without_the_scope_is_403(platform: Platform, acme: Org, method: str, template: str) -> None:
    others = [
        s for s in ("templates:read", "templates:write", "data:read", "data:write") if s != ROUTES[method, template]
    ]
    key = platform.key("acme-templates", scopes=others)
    answer = platform.call(method, acme.path(template), acme.body(method, template), key=key, query=query_for(template))
    problem(answer, 403)
    only = platform.key("acme-templates", scopes=[ROUTES[method, template]])
    path = acme.path(template)
    if method == "DELETE":  # the shared template must survive: delete a throwaway one
        path = f"/v2/templates/{acme.ok('POST', '/v2/templates', acme.thing_template())['id']}"
    answer = platform.call(method, path, acme.body(method, template), key=only, query=query_for(template))
    assert answer.status < 400, answer


@pytest.mark.parametrize(("method", "template"), [r for r in ROUTES if "{templateId}" in r[1]])
def test_another_organizations_template_is_404(
    platform: Platform, acme: Org, globex: Org, method: str, template: str
) -> None:
    path = template.replace("{templateId}", acme.template["id"]).replace("{thingId}", globex.thing)
    answer = platform.call(method, path, globex.body(method, template), key=globex.key)
    problem(answer, 404, "not-found")
    assert acme.ok("GET", f"/v2/templates/{acme.template['id']}")["status"] == "active"


def test_another_organizations_thing_is_404(acme: Org, globex: Org) -> None:
    answer = acme.call("POST", f"/v2/thing/{globex.thing}/data/template/{acme.template['id']}", {"readings": []})
    problem(answer, 404, "not-found")


def test_lists_never_show_another_organizations_data(platform: Platform, acme: Org, globex: Org) -> None:
    assert acme.template["id"] not in {t["id"] for t in globex.ok("GET", "/v2/templates")["items"]}
    acme.ok("POST", f"/v2/transactions/template/{acme.tx_template['id']}", {"tx": [{"at": ISO0, "id": "x", "amt": 1}]})
    drain(platform)
    assert globex.ok("GET", "/v2/transactions", type="charge", start=ISO0)["transactions"] == []


# --------------------------------------------------------------------------- management


def test_create_get_list_update_delete(acme: Org) -> None:
    created = acme.call("POST", "/v2/templates", {**acme.thing_template(), "description": "d", "tags": ["x"]})
    assert created.status == 201
    tmpl = created.body
    assert tmpl["id"].startswith("tmpl_") and tmpl["revision"] == 1 and tmpl["status"] == "active"
    assert acme.ok("GET", f"/v2/templates/{tmpl['id']}") == tmpl
    updated = acme.ok("PUT", f"/v2/templates/{tmpl['id']}", {"name": "v2", "spec": acme.thing_template()["spec"]})
    assert (updated["revision"], updated["name"], updated["description"]) == (2, "v2", "d")
    listed = acme.ok("GET", "/v2/templates", target="ThingData", format="JsonPointer")["items"]
    assert tmpl["id"] in {t["id"] for t in listed}
    assert acme.ok("GET", "/v2/templates", target="Transactions")["items"] == [acme.tx_template]
    deleted = acme.ok("DELETE", f"/v2/templates/{tmpl['id']}")
    assert deleted["status"] == "deleted"
    assert acme.ok("GET", f"/v2/templates/{tmpl['id']}")["status"] == "deleted"
    assert tmpl["id"] not in {t["id"] for t in acme.ok("GET", "/v2/templates")["items"]}
    assert tmpl["id"] in [t["id"] for t in acme.ok("GET", "/v2/templates", status="deleted")["items"]]
    problem(acme.call("PUT", f"/v2/templates/{tmpl['id']}", {"name": "x"}), 409, "template-deleted")
    applied = acme.call("POST", f"/v2/thing/{acme.thing}/data/template/{tmpl['id']}", {"readings": []})
    problem(applied, 404, "template-deleted")
    problem(acme.call("POST", f"/v2/templates/{tmpl['id']}/test", {}), 404, "template-deleted")


def test_list_pages_with_a_continuation_token(acme: Org) -> None:
    ids = {acme.ok("POST", "/v2/templates", acme.thing_template())["id"] for _ in range(3)}
    seen: list[str] = []
    token = None
    while True:
        page = acme.ok("GET", "/v2/templates", pageLimit=2, **({"continuationToken": token} if token else {}))
        seen += [t["id"] for t in page["items"]]
        token = page.get("continuationToken")
        if not token:
            break
    assert ids <= set(seen) and len(seen) == len(set(seen))
    problem(acme.call("GET", "/v2/templates", pageLimit=0), 400)
    problem(acme.call("GET", "/v2/templates", status="gone"), 400)
    problem(acme.call("GET", "/v2/templates", continuationToken="%%%"), 400)


def test_validation_errors_are_problems_with_every_error_and_reason(acme: Org) -> None:
    spec = acme.thing_template()["spec"]
    spec["mappings"][0]["metricId"] = "mdef_nope"
    spec["mappings"][1]["transform"] = {"scale": 2}
    spec["timestamp"]["source"]["pointer"] = "ts"
    body = problem(acme.call("POST", "/v2/templates", {**acme.thing_template(), "spec": spec}), 400, "invalid-template")
    assert set(body["reasons"]) == {"unknown-metric", "transform-not-numeric", "invalid-pointer"}
    assert {e["path"] for e in body["errors"]} == {
        "spec/mappings/0/metricId",
        "spec/mappings/1/transform",
        "spec/timestamp/source/pointer",
    }
    one = {**acme.thing_template(), "spec": {**acme.thing_template()["spec"], "mappings": []}}
    problem(acme.call("POST", "/v2/templates", one), 400, "no-mappings")
    problem(acme.call("POST", "/v2/templates", b'{"name": '), 400, "malformed-request")
    # a ThingData spec is not an Integrations spec (its rules are missing, its fields unknown)
    integrations = {**acme.thing_template(), "target": "Integrations"}
    body = problem(acme.call("POST", "/v2/templates", integrations), 400, "invalid-spec")
    assert "spec/rules" in {e["path"] for e in body["errors"]}


@pytest.mark.parametrize("field", ["target", "format"])
def test_target_and_format_are_immutable(acme: Org, field: str) -> None:
    answer = acme.call("PUT", f"/v2/templates/{acme.template['id']}", {field: "Dbc"})
    body = problem(answer, 400, "immutable-field")
    assert [e["path"] for e in body["errors"]] == [field]


def test_test_endpoint_dry_runs_without_a_thing(platform: Platform, acme: Org) -> None:
    payload = {"readings": [{"ts": T0, "v": 523, "tq": 4}, {"ts": "soon", "v": 1}]}
    out = acme.ok("POST", f"/v2/templates/{acme.template['id']}/test", payload)
    assert out["previewOnly"] is True and out["readingsWritten"] == 1 and out["metricsSkippedNotOnTtd"] == []
    assert out["recordsSkipped"] == [{"index": 1, "reason": "invalid_timestamp", "value": "soon"}]
    assert out["readings"] == [
        {
            "timestamp": T0,
            "time": ISO0,
            "metrics": {acme.m["voltage"]: 52.3, acme.m["mode"]: "auto", acme.m["torque"]: 4.0},
        }
    ]
    assert drain(platform) == 0


# --------------------------------------------------------------------------- apply


def test_apply_writes_through_the_queue_and_reads_back(platform: Platform, acme: Org) -> None:
    thing = acme.new_thing(acme.type_id)
    payload = {"readings": [{"ts": T0, "v": 523, "mode": "eco", "tq": 3}, {"ts": T0 + 1000, "v": "x"}, {"ts": "bad"}]}
    path = f"/v2/thing/{thing}/data/template/{acme.template['id']}"
    preview = acme.ok("POST", path, payload, previewOnly="true")
    assert preview["previewOnly"] is True and len(preview["readings"]) == 2
    assert acme.ok("POST", path, payload, previewOnly="1")["previewOnly"] is True
    assert drain(platform) == 0
    report = acme.ok("POST", path, payload, previewOnly="false")
    assert report == {
        "previewOnly": False,
        "templateId": acme.template["id"],
        "templateRevision": acme.ok("GET", f"/v2/templates/{acme.template['id']}")["revision"],
        "recordsParsed": 3,
        "readingsWritten": 2,
        "metricValuesWritten": 3,
        "recordsSkipped": [{"index": 2, "reason": "invalid_timestamp", "value": "bad"}],
        "metricsSkippedNotOnTtd": [acme.m["torque"]],
        "fieldsSkippedMissing": [],
        "fieldsInvalid": [{"metricId": acme.m["voltage"], "reason": "parse_failed", "count": 1}],
    }
    assert drain(platform) == 1
    latest = acme.ok("GET", f"/v2/things/{thing}/latest-event")
    assert latest["metrics"] == {"mode": "auto"} and latest["timestamp"] == T0 + 1000
    history = acme.ok("GET", f"/v2/things/{thing}/history", start=str(T0), end=str(T0 + 5000))
    assert [f["metrics"] for f in history["frames"]] == [{"voltage": 52.3, "mode": "eco"}, {"mode": "auto"}]


def test_apply_failures_are_structural_and_write_nothing(platform: Platform, acme: Org) -> None:
    from telemetry.bootstrap import container
    from telemetry.ports.definitions import Item
    from telemetry.repositories.definitions import org_pk

    tid = acme.template["id"]
    gone_type = acme.ok("POST", "/v2/definitions/thing-types", {"displayName": "G", "metricIds": [acme.m["voltage"]]})
    orphan = acme.new_thing(gone_type["id"])
    store = container().repo.store
    org_id = container().keys.authenticate(acme.key).org_id
    found = store.get(org_pk(org_id), f"TTYPE#{gone_type['id']}")
    assert found is not None
    store.write([Item(found.pk, found.sk, {**found.doc, "deleted": True})])

    def apply(thing: str, template: str, body: Any) -> Any:
        return acme.call("POST", f"/v2/thing/{thing}/data/template/{template}", body)

    problem(apply(acme.thing, "tmpl_doesnotexist", {"readings": []}), 404, "not-found")
    problem(apply("thing_nope", tid, {"readings": []}), 404, "not-found")
    problem(apply(acme.thing, tid, b'{"readings": [1,'), 400, "malformed-request")
    body = problem(apply(acme.thing, tid, {"readings": {"ts": T0}}), 400, "records-not-array")
    assert body["errors"][0]["path"] == "spec/recordsPointer"
    problem(apply(acme.untyped, tid, {"readings": []}), 424, "failed-dependency")
    problem(apply(orphan, tid, {"readings": []}), 424, "failed-dependency")
    problem(apply(acme.thing, acme.tx_template["id"], {"tx": []}), 400, "wrong-target")
    problem(apply(acme.thing, tid, {"readings": [{"ts": T0, "v": 1}] * 1001}), 413, "payload-too-large")
    big = b'{"readings": [], "pad": "' + b"x" * (1024 * 1024) + b'"}'
    problem(apply(acme.thing, tid, big), 413, "payload-too-large")
    problem(acme.call("POST", f"/v2/thing/{acme.thing}/data/template/{tid}", {}, previewOnly="maybe"), 400)
    assert drain(platform) == 0


def test_a_failing_script_is_422_and_writes_nothing(platform: Platform, acme: Org) -> None:
    js = acme.ok(
        "POST",
        "/v2/templates",
        {
            "name": "js",
            "target": "ThingData",
            "format": "JavaScriptHandler",
            "spec": {
                "source": "function handler(p) { while (true) {} }",
                "metricIds": [acme.m["voltage"]],
                "timeoutMs": 50,
            },
        },
    )
    body = problem(acme.call("POST", f"/v2/thing/{acme.thing}/data/template/{js['id']}", {}), 422, "script-timeout")
    assert body["errors"][0]["path"] == "spec/source"
    problem(acme.call("POST", f"/v2/templates/{js['id']}/test", {}), 422, "script-timeout")
    assert drain(platform) == 0


# --------------------------------------------------------------------------- transactions


def test_transactions_apply_and_read(platform: Platform, acme: Org) -> None:
    tid = acme.tx_template["id"]
    payload = {
        "tx": [
            {"at": "2024-06-21T08:00:00Z", "id": "c1", "amt": 12.5},
            {"at": "2024-06-21T08:00:00Z", "id": "c2", "amt": 3, "cur": "eur"},
            {"at": "2024-06-21T09:00:00Z", "id": "r1", "kind": "refund", "amt": -1},
            {"at": "2024-06-21T09:00:00Z", "amt": 1},
        ]
    }
    preview = acme.ok("POST", f"/v2/transactions/template/{tid}", payload, previewOnly="true")
    assert [t["id"] for t in preview["transactions"]] == ["c1", "c2", "r1"]
    assert drain(platform) == 0
    report = acme.ok("POST", f"/v2/transactions/template/{tid}", payload)
    assert report["transactionsWritten"] == 3 and report["recordsSkipped"] == [{"index": 3, "reason": "missing_id"}]
    assert drain(platform) == 1
    window = {"start": "2024-06-21T00:00:00Z", "end": "2024-06-22T00:00:00Z"}
    charges = acme.ok("GET", "/v2/transactions", type="charge", **window)
    assert charges["transactions"] == [
        {"id": "c1", "type": "charge", "timestamp": 1718956800000, "time": "2024-06-21T08:00:00Z", "amount": 12.5,
         "currency": "USD", "attributes": {}},
        {"id": "c2", "type": "charge", "timestamp": 1718956800000, "time": "2024-06-21T08:00:00Z", "amount": 3.0,
         "currency": "EUR", "attributes": {}},
    ]  # fmt: skip
    refunds = acme.ok("GET", "/v2/transactions", type="refund", **window)["transactions"]
    assert [t["id"] for t in refunds] == ["r1"]
    problem(acme.call("GET", "/v2/transactions"), 400)
    problem(acme.call("POST", f"/v2/transactions/template/{acme.template['id']}", {}), 400, "wrong-target")


ODD_BODIES: list[Any] = [
    b"",
    b"null",
    b"[]",
    b"\xff\xfe",
    b'{"a":' * 200,
    "\u0000",
    {"name": None, "target": 1, "format": [], "spec": "x", "tags": {}},
    {"readings": [None, 1, "x", [], {"ts": {"$gt": 1}}]},
    {"tx": [{"at": None, "id": {}, "amt": "NaN"}]},
    {"spec": {"mappings": [{"metricId": 7}], "recordsPointer": 5}},
]


@pytest.mark.parametrize(("method", "template"), [r for r in ROUTES if r[0] != "DELETE"])  # keep the template
def test_odd_input_never_makes_a_server_error(acme: Org, method: str, template: str) -> None:
    for body in ODD_BODIES if method in ("POST", "PUT") else [None]:
        for query in ({}, {"previewOnly": "true"}, {"pageLimit": "-1", "continuationToken": "e30", "type": "x" * 300}):
            answer = acme.call(method, acme.path(template), body, **query)
            assert answer.status < 500, (template, body, query, answer)
            if answer.status >= 400:
                assert answer.header("Content-Type") == "application/problem+json"
