"""Integration fixtures: the real template's tables and queues under moto (in-process), the real
functions loaded from template.yaml, and the local gateway's routing + authorizer logic called
without HTTP (``LocalGateway.handle``)."""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import boto3
import orjson
import pytest
from moto import mock_aws

REPO = Path(__file__).resolve().parents[2]


@dataclass
class Answer:
    status: int
    headers: dict[str, str]
    body: Any

    def header(self, name: str) -> str | None:
        return next((v for k, v in self.headers.items() if k.lower() == name.lower()), None)


class Platform:
    """The platform in-process: ``call`` goes through routing, the authorizer and the handler."""

    def __init__(self) -> None:
        from devstack.gateway import LocalGateway
        from devstack.lambdas import apply_environment, load_all
        from devstack.resources import create_resources
        from devstack.template import Template

        self.template = Template.load(REPO / "template.yaml", stack_name="it")
        self.resources = create_resources(self.template, boto3.session.Session(region_name="us-east-1"))
        apply_environment(self.template.functions())
        self.functions = load_all(self.template)
        self.gateway = LocalGateway(self.template, self.functions)

    def call(
        self,
        method: str,
        path: str,
        body: Any = None,
        key: str | None = None,
        headers: dict[str, str] | None = None,
        query: dict[str, Any] | None = None,
    ) -> Answer:
        from devstack.gateway import IncomingRequest

        # stdlib json: unlike orjson it writes integers beyond 64 bits, which clients may send
        raw = body if isinstance(body, bytes) else (b"" if body is None else json.dumps(body).encode())
        hdrs = [("Content-Type", "application/json")]
        if key is not None:
            hdrs.append(("X-Api-Key", key))
        hdrs += list((headers or {}).items())
        out = self.gateway.handle(
            IncomingRequest(method=method, path=path, query=urlencode(query or {}), headers=hdrs, body=raw)
        )
        text = out.body.decode() if isinstance(out.body, bytes) else out.body
        try:
            parsed = orjson.loads(text) if text else None
        except orjson.JSONDecodeError:
            parsed = text
        return Answer(out.status, dict(out.headers), parsed)

    def key(self, org: str, scopes: list[str] | None = None, **filters: list[str]) -> str:
        from telemetry.bootstrap import container
        from telemetry.models.auth import ResourceFilters

        return container().keys.issue(org, scopes=scopes, filters=ResourceFilters(**filters) if filters else None).key


@pytest.fixture(scope="module")
def platform() -> Iterator[Platform]:
    """One moto world per test module; tests isolate themselves with their own organizations."""
    saved = dict(os.environ)
    os.environ.update(AWS_ACCESS_KEY_ID="testing", AWS_SECRET_ACCESS_KEY="testing", AWS_DEFAULT_REGION="us-east-1")
    os.environ.pop("AWS_ENDPOINT_URL", None)
    from telemetry.bootstrap import container

    with mock_aws():
        container.cache_clear()
        yield Platform()
        container.cache_clear()
    os.environ.clear()
    os.environ.update(saved)


@pytest.fixture
def fake_aws_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """Fake credentials and no endpoint or profile from the machine, for in-process ``mock_aws``."""
    for name in ("AWS_PROFILE", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_DYNAMODB"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_SESSION_TOKEN", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")


def create_table_from_template(client: Any, logical_id: str, name: str) -> None:
    """Create one of template.yaml's tables under ``name`` exactly as the template defines it
    (key schema, indexes, billing), so adapter tests cannot drift from what is deployed."""
    from devstack.resources import table_request
    from devstack.template import Template

    props = Template.load(REPO / "template.yaml").tables()[logical_id]
    client.create_table(**table_request(name, props))


def drain(p: Platform) -> int:
    """Feed the writer from the queue as the event source mapping would; returns messages handled."""
    from devstack.poller import SqsPoller

    total = 0
    for spec in p.template.sqs_events():
        queue = p.template.physical_resource(spec.queue_id)
        poller = SqsPoller(
            spec,
            p.functions[spec.function_id],
            queue_url=queue.ref,
            queue_arn=queue.attributes["Arn"],
            session=boto3.session.Session(region_name="us-east-1"),
            wait_seconds=0,
        )
        while (n := poller.poll_once()) > 0:
            total += n
    return total


def serialize_moto_dynamodb(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make moto's DynamoDB atomic per call, as the real service is.

    DynamoDB evaluates a condition and writes in one step; moto's backend takes no lock, so two
    threads can both pass ``ver = :ver``. The concurrency tests serialise its item calls so the
    race they exercise is the code's own, not moto's (the only mock-like step: a fault in the
    fake that the real service does not have)."""
    from moto.dynamodb.models import DynamoDBBackend

    lock = threading.RLock()
    for name in ("get_item", "put_item", "update_item", "delete_item", "transact_write_items"):
        original = getattr(DynamoDBBackend, name)

        def atomic(self: DynamoDBBackend, *args: object, _original: Any = original, **kwargs: object) -> object:
            with lock:
                return _original(self, *args, **kwargs)

        monkeypatch.setattr(DynamoDBBackend, name, atomic)
