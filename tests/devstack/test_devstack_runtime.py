"""SQS event source mapping, schedules, handler loading and the environment."""

from __future__ import annotations

import logging
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from devstack.lambdas import LambdaContext, handler_for, load_function, merged_function_environment
from devstack.poller import failed_ids
from devstack.scheduler import parse_rate
from devstack.stack import LocalStack
from devstack.template import Template


def _wait(predicate: Callable[[], bool], timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return predicate()


def test_poller_deletes_successes_and_dead_letters_failures(stack: LocalStack) -> None:
    seen: list[str] = stack.functions["ConsumerFunction"].module.SEEN
    sqs = stack.client("sqs")
    queue, dlq = stack.physical("JobsQueue"), stack.physical("JobsDeadLetterQueue")
    started = time.monotonic()
    for body in ("ok-1", "ok-2", "fail-1"):
        sqs.send_message(QueueUrl=queue, MessageBody=body)
    assert _wait(lambda: {"ok-1", "ok-2", "fail-1"} <= set(seen), 3), seen
    assert time.monotonic() - started < 2.5  # delivered promptly
    # VisibilityTimeout 1 s, maxReceiveCount 2: retried once, then moved to the DLQ by SQS (moto)
    dead: list[str] = []

    def in_dlq() -> bool:
        got = sqs.receive_message(QueueUrl=dlq, MaxNumberOfMessages=10, WaitTimeSeconds=0)
        dead.extend(m["Body"] for m in got.get("Messages", []))
        return bool(dead)

    assert _wait(in_dlq, 8)
    assert dead == ["fail-1"]
    assert seen.count("fail-1") == 2 and seen.count("ok-1") == 1 and seen.count("ok-2") == 1
    attrs = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["All"])["Attributes"]
    assert attrs["ApproximateNumberOfMessages"] == "0"
    assert attrs["ApproximateNumberOfMessagesNotVisible"] == "0"


def test_schedule_fires_scheduled_events(stack: LocalStack) -> None:
    ticks: list[dict[str, object]] = stack.functions["ConsumerFunction"].module.TICKS
    assert _wait(lambda: bool(ticks), 3)  # rate(1 minute) with speedup 60
    assert ticks[0]["detail-type"] == "Scheduled Event" and ticks[0]["source"] == "aws.events"


def test_stack_environment(stack: LocalStack) -> None:
    assert os.environ["AWS_ENDPOINT_URL"] == stack.endpoint_url
    assert os.environ["ITEMS_TABLE"] == stack.physical("ItemsTable")
    assert os.environ["POWERTOOLS_METRICS_DISABLED"] == "true"
    assert os.environ["POWERTOOLS_TRACE_DISABLED"] == "true"
    assert stack.client("dynamodb").describe_table(TableName=stack.physical("ItemsTable"))


def test_failed_ids_contract() -> None:
    ids = ["a", "b", "c"]
    assert failed_ids(None, ids) == set()
    assert failed_ids({"batchItemFailures": []}, ids) == set()
    assert failed_ids({"batchItemFailures": [{"itemIdentifier": "b"}]}, ids) == {"b"}
    assert failed_ids({"batchItemFailures": [{"itemIdentifier": "zzz"}]}, ids) == set(ids)
    assert failed_ids({"batchItemFailures": [{"itemIdentifier": ""}]}, ids) == set(ids)


def test_parse_rate() -> None:
    assert parse_rate("rate(1 minute)") == 60
    assert parse_rate("rate(5 minutes)") == 300
    assert parse_rate("rate(2 hours)") == 7200
    assert parse_rate("rate(1 day)") == 86400
    assert parse_rate("cron(0 12 * * ? *)") is None


def test_handlers_load_by_path_without_touching_sys_path(fixture_template: Template) -> None:
    before = list(sys.path)
    handler = handler_for(fixture_template, "AuthorizerFunction")
    echo = load_function(fixture_template.function("EchoFunction"))
    assert sys.path == before
    assert echo.module.__name__ == "fn_EchoFunction"
    assert handler.__module__ == "fn_AuthorizerFunction"
    with pytest.raises(Exception, match="Unauthorized"):
        handler({"headers": {}, "methodArn": "arn:aws:execute-api:r:a:api/dev/GET/x"}, None)


def test_context_honours_timeout(fixture_template: Template) -> None:
    ctx = LambdaContext(fixture_template.function("ConsumerFunction"))
    assert 4_000 < ctx.get_remaining_time_in_millis() <= 5_000
    assert ctx.memory_limit_in_mb == 256 and ctx.invoked_function_arn.endswith(":function:t-ConsumerFunction")


def test_conflicting_environment_is_warned(
    fixture_template: Template, caplog: pytest.LogCaptureFixture, tmp_path: Path
) -> None:
    from dataclasses import replace

    a = fixture_template.function("EchoFunction")
    b = replace(fixture_template.function("ConsumerFunction"), environment={"ITEMS_TABLE": "other"})
    with caplog.at_level(logging.WARNING, logger="devstack.lambdas"):
        merged = merged_function_environment([a, b])
    assert merged["ITEMS_TABLE"] == "other" and merged["ECHO_ONLY"] == "1"
    assert "ITEMS_TABLE differs" in caplog.text


def test_a_stopped_stack_leaves_no_container_built_from_its_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """CI failed the writer tests of a later module: a poller thread of an e2e stack had rebuilt
    the composition root after the test cleared it, and that container still pointed at the
    stack's dead moto. The stack now drops the cached root itself, once its threads are stopped."""
    from telemetry.bootstrap import container

    from tests.devstack.conftest import FIXTURE_TEMPLATE

    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    with LocalStack(FIXTURE_TEMPLATE, stack_name="leak", port=0, pollers=False, schedules=False) as running:
        # Given a function (or a late poller thread) builds the root while the stack runs
        assert container().settings.aws_endpoint_url == running.endpoint_url
    # Then, once the stack has stopped, the root is built again from the restored environment
    assert container().settings.aws_endpoint_url is None
    container.cache_clear()
