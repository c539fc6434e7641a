"""Two requests resolved at once by one handler's resolver each see their own event.

Powertools keeps the current event on the ``BaseRouter`` class: with the plain
``APIGatewayRestResolver`` (the old ``build_app``), the second ``resolve`` overwrote the event the
first route was about to read, so a 200 carried the other request's body (the cold-burst frame
loss, tests/load/test_cold_burst.py). These tests fail on the old code.
"""

from __future__ import annotations

import re
import threading
from pathlib import Path
from typing import Any

from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response
from telemetry.http.app import build_app, json_body


def _event(thing: str, body: str) -> dict[str, Any]:
    return {
        "resource": "/v2/thing/{thingId}/data",
        "path": f"/v2/thing/{thing}/data",
        "httpMethod": "POST",
        "headers": {"Content-Type": "application/json"},
        "multiValueHeaders": {"Content-Type": ["application/json"]},
        "queryStringParameters": None,
        "multiValueQueryStringParameters": None,
        "pathParameters": {"thingId": thing},
        "stageVariables": None,
        "requestContext": {"path": f"/v2/thing/{thing}/data", "stage": "v2", "httpMethod": "POST"},
        "body": body,
        "isBase64Encoded": False,
    }


def _race(app: APIGatewayRestResolver) -> dict[str, tuple[str, str]]:
    """Both routes start, both events are set, then both read: what each route saw."""
    barrier = threading.Barrier(2, timeout=10)
    seen: dict[str, tuple[str, str]] = {}

    @app.post("/v2/thing/<thingId>/data")
    def route(thingId: str) -> Response[str]:
        barrier.wait()  # the other request has been resolved (its event set) by now
        seen[thingId] = (json_body(app).decode(), app.current_event.path)
        return Response(200, "application/json", "{}")

    answers: list[int] = []

    def call(thing: str) -> None:
        answers.append(app.resolve(_event(thing, f'{{"from":"{thing}"}}'), None)["statusCode"])

    threads = [threading.Thread(target=call, args=(t,)) for t in ("a", "b")]
    for t in threads:
        t.start()
    for t in threads:
        t.join(20)
    assert answers == [200, 200]
    return seen


def test_concurrent_requests_each_read_their_own_body_and_path() -> None:
    seen = _race(build_app())
    assert seen == {
        "a": ('{"from":"a"}', "/v2/thing/a/data"),
        "b": ('{"from":"b"}', "/v2/thing/b/data"),
    }


def test_a_request_of_another_function_does_not_replace_the_event() -> None:
    """Every resolver shares powertools' class attribute: two handlers' apps race too."""
    first, second = build_app(), build_app()
    barrier = threading.Barrier(2, timeout=10)
    seen: dict[str, str] = {}

    @first.post("/v2/thing/<thingId>/data")
    def one(thingId: str) -> Response[str]:
        barrier.wait()
        barrier.wait()  # the other app has resolved its own request meanwhile
        seen["first"] = json_body(first).decode()
        return Response(200, "application/json", "{}")

    @second.post("/v2/thing/<thingId>/data")
    def two(thingId: str) -> Response[str]:
        barrier.wait()
        seen["second"] = json_body(second).decode()
        barrier.wait()
        return Response(200, "application/json", "{}")

    threads = [
        threading.Thread(target=first.resolve, args=(_event("a", "one"), None)),
        threading.Thread(target=second.resolve, args=(_event("b", "two"), None)),
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join(20)
    assert seen == {"first": "one", "second": "two"}


def test_no_handler_builds_a_plain_resolver() -> None:
    """Every resolver is an IsolatedRestResolver: a plain one would share the event again."""
    repo = Path(__file__).resolve().parents[2]
    sources = [*(repo / "layers" / "domain" / "telemetry").rglob("*.py"), *(repo / "functions").glob("*/app.py")]
    plain = re.compile(r"\b(APIGateway\w*Resolver|ALBResolver|LambdaFunctionUrlResolver)\(")
    offenders = [
        f"{path.relative_to(repo)}:{n}"
        for path in sources
        if path.name != "resolver.py"
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if plain.search(line)
    ]
    assert offenders == []
