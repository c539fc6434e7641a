"""Schedules created at run time fire locally, as EventBridge Scheduler would fire them on AWS."""

from __future__ import annotations

import json
from typing import Any

import boto3
import pytest
from devstack.runtime_schedules import SchedulerEmulator
from moto import mock_aws

ROLE = "arn:aws:iam::123456789012:role/scheduler"


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Any:
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        monkeypatch.setenv(name, "testing")
    with mock_aws():
        yield boto3.client("scheduler", region_name="us-east-1"), boto3.client("sqs", region_name="us-east-1")


def _queue(sqs: Any, name: str) -> tuple[str, str]:
    url = sqs.create_queue(QueueName=name)["QueueUrl"]
    return url, sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]


def _received(sqs: Any, url: str) -> list[Any]:
    messages = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", [])
    return [json.loads(m["Body"]) for m in messages]


def test_a_schedule_created_at_run_time_sends_its_input_to_its_queue_every_interval(aws: Any) -> None:
    scheduler, sqs = aws
    url, arn = _queue(sqs, "pull")
    scheduler.create_schedule_group(Name="integrations")
    # Given a schedule created while the stack runs
    scheduler.create_schedule(
        Name="intg_1",
        GroupName="integrations",
        ScheduleExpression="rate(5 minutes)",
        FlexibleTimeWindow={"Mode": "OFF"},
        Target={"Arn": arn, "RoleArn": ROLE, "Input": json.dumps({"integration_id": "intg_1"})},
    )
    created = scheduler.get_schedule(Name="intg_1", GroupName="integrations")["CreationDate"].timestamp()
    clock = Clock()
    emulator = SchedulerEmulator(scheduler, sqs, clock=clock)
    # When less than one interval has passed, nothing fires
    clock.now = created + 299
    assert emulator.run_due() == 0
    # Then one interval after creation its Input arrives on the queue, and again one interval later
    clock.now = created + 300
    assert emulator.run_due() == 1
    assert _received(sqs, url) == [{"integration_id": "intg_1"}]
    clock.now = created + 450
    assert emulator.run_due() == 0
    clock.now = created + 601
    assert emulator.run_due() == 1
    assert emulator.fired("integrations", "intg_1") == 2


def test_disabled_and_deleted_schedules_stop_firing(aws: Any) -> None:
    scheduler, sqs = aws
    url, arn = _queue(sqs, "pull")
    target = {"Arn": arn, "RoleArn": ROLE, "Input": "{}"}
    for name in ("on", "off"):
        scheduler.create_schedule(
            Name=name,
            ScheduleExpression="rate(1 minute)",
            FlexibleTimeWindow={"Mode": "OFF"},
            Target=target,
            State="ENABLED" if name == "on" else "DISABLED",
        )
    clock = Clock()
    emulator = SchedulerEmulator(scheduler, sqs, clock=clock, speedup=60)  # 1 minute -> 1 s
    clock.now = scheduler.get_schedule(Name="on")["CreationDate"].timestamp() + 1.5
    assert emulator.run_due() == 1
    scheduler.delete_schedule(Name="on")
    clock.now += 5
    assert emulator.run_due() == 0
    assert emulator.fired("default", "off") == 0
    assert len(_received(sqs, url)) == 1
