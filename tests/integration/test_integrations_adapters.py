"""The integrations adapters against moto: Secrets Manager, EventBridge Scheduler, SQS."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import boto3
import orjson
import pytest
from moto import mock_aws
from telemetry.adapters.pull_queue_sqs import SqsPullQueue
from telemetry.adapters.scheduler_eventbridge import EventBridgePullScheduler, rate_expression, schedule_name
from telemetry.adapters.secrets_manager import SecretsManagerStore
from telemetry.errors import NotFound, Unavailable
from telemetry.ports.integrations import PullStep

ROLE = "arn:aws:iam::123456789012:role/scheduler-to-pull-queue"


@pytest.fixture
def aws(fake_aws_env: None) -> Iterator[None]:
    with mock_aws():
        yield


# ------------------------------------------------------------------ Secrets Manager


def test_put_creates_then_replaces_a_secret_and_get_reads_it(aws: None) -> None:
    store = SecretsManagerStore()

    arn = store.put("integrations/org_1/intg_a", {"userName": "u", "password": "p"})
    again = store.put("integrations/org_1/intg_a", {"userName": "u", "password": "rotated"})

    assert arn == again and ":secret:integrations/org_1/intg_a" in arn
    assert store.get(arn) == {"userName": "u", "password": "rotated"}
    raw = boto3.client("secretsmanager").get_secret_value(SecretId="integrations/org_1/intg_a")
    assert orjson.loads(raw["SecretString"]) == {"userName": "u", "password": "rotated"}


def test_delete_removes_the_secret_at_once_and_is_idempotent(aws: None) -> None:
    store = SecretsManagerStore()
    arn = store.put("integrations/org_1/intg_a", {"apiToken": "t"})

    store.delete(arn)
    store.delete(arn)

    with pytest.raises(NotFound):
        store.get(arn)
    assert boto3.client("secretsmanager").list_secrets()["SecretList"] == []


def test_a_failure_names_the_code_and_never_the_value(aws: None) -> None:
    class Refusing:
        def create_secret(self, **kw: Any) -> Any:
            from botocore.exceptions import ClientError

            raise ClientError(
                {"Error": {"Code": "AccessDeniedException", "Message": f"denied {kw['SecretString']}"}}, "CreateSecret"
            )

    with pytest.raises(Unavailable) as caught:
        SecretsManagerStore(client=Refusing()).put("integrations/o/i", {"password": "hunter2"})

    assert "AccessDeniedException" in caught.value.detail
    assert caught.value.__cause__ is None and caught.value.__context__ is not None
    assert "hunter2" not in str(caught.value)


# ------------------------------------------------------------------ EventBridge Scheduler


@pytest.fixture
def group(aws: None) -> str:
    boto3.client("scheduler").create_schedule_group(Name="it-integrations")
    return "it-integrations"


def queue_arn() -> tuple[str, str]:
    sqs = boto3.client("sqs")
    url = sqs.create_queue(QueueName="it-pull")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    return url, arn


def test_upsert_creates_a_rate_schedule_targeting_the_pull_queue(group: str) -> None:
    _, arn = queue_arn()
    scheduler = EventBridgePullScheduler(group, arn, ROLE)

    scheduler.upsert("org_1", "intg_a", 15, enabled=True)

    stored = boto3.client("scheduler").get_schedule(Name=schedule_name("org_1", "intg_a"), GroupName=group)
    assert stored["ScheduleExpression"] == "rate(15 minutes)"
    assert stored["State"] == "ENABLED"
    assert stored["Target"]["Arn"] == arn and stored["Target"]["RoleArn"] == ROLE
    assert orjson.loads(stored["Target"]["Input"]) == {
        "org_id": "org_1",
        "integration_id": "intg_a",
        "reason": "schedule",
    }


def test_upsert_again_changes_the_rate_and_state(group: str) -> None:
    _, arn = queue_arn()
    scheduler = EventBridgePullScheduler(group, arn, ROLE)
    scheduler.upsert("org_1", "intg_a", 15, enabled=True)

    scheduler.upsert("org_1", "intg_a", 1, enabled=False)

    client = boto3.client("scheduler")
    stored = client.get_schedule(Name=schedule_name("org_1", "intg_a"), GroupName=group)
    assert stored["ScheduleExpression"] == "rate(1 minute)" and stored["State"] == "DISABLED"
    assert len(client.list_schedules(GroupName=group)["Schedules"]) == 1


def test_delete_removes_the_schedule_and_is_idempotent(group: str) -> None:
    _, arn = queue_arn()
    scheduler = EventBridgePullScheduler(group, arn, ROLE)
    scheduler.upsert("org_1", "intg_a", 5, enabled=True)
    scheduler.upsert("org_1", "intg_b", 5, enabled=True)

    scheduler.delete("org_1", "intg_a")
    scheduler.delete("org_1", "intg_a")

    names = [s["Name"] for s in boto3.client("scheduler").list_schedules(GroupName=group)["Schedules"]]
    assert names == [schedule_name("org_1", "intg_b")]


def test_a_refused_schedule_is_unavailable_naming_the_code() -> None:
    """(moto raises a bare KeyError for a missing group, so the refusal is stubbed.)"""

    class Refusing:
        def create_schedule(self, **kw: Any) -> Any:
            from botocore.exceptions import ClientError

            raise ClientError({"Error": {"Code": "ResourceNotFoundException", "Message": "no group"}}, "CreateSchedule")

    scheduler = EventBridgePullScheduler("absent", "arn:aws:sqs:us-east-1:123456789012:q", ROLE, client=Refusing())
    with pytest.raises(Unavailable, match="ResourceNotFoundException"):
        scheduler.upsert("org_1", "intg_a", 5, enabled=True)


def test_schedule_names_fit_the_limit_and_are_distinct() -> None:
    assert schedule_name("org_abc", "intg_def") == "org_abc.intg_def"
    long_one = schedule_name("org_" + "x" * 40, "intg_" + "y" * 40)
    assert len(long_one) <= 64 and long_one == schedule_name("org_" + "x" * 40, "intg_" + "y" * 40)
    assert long_one != schedule_name("org_" + "x" * 40, "intg_" + "z" * 40)
    assert len(schedule_name("org/odd", "intg_a")) <= 64
    assert [rate_expression(n) for n in (1, 2, 1440)] == ["rate(1 minute)", "rate(2 minutes)", "rate(1440 minutes)"]


# ------------------------------------------------------------------ SQS pull queue


def test_send_puts_the_step_json_on_the_queue(aws: None) -> None:
    url, _ = queue_arn()

    SqsPullQueue(url).send(PullStep("org_1", "intg_a", "run_1", reason="manual"))

    (message,) = boto3.client("sqs").receive_message(QueueUrl=url, MaxNumberOfMessages=10)["Messages"]
    assert orjson.loads(message["Body"]) == {
        "org_id": "org_1",
        "integration_id": "intg_a",
        "run_id": "run_1",
        "reason": "manual",
        "pushed": [],
    }


def test_a_missing_queue_is_unavailable(aws: None) -> None:
    with pytest.raises(Unavailable, match="pull queue"):
        SqsPullQueue("https://sqs.us-east-1.amazonaws.com/123456789012/absent").send(PullStep("o", "i"))
