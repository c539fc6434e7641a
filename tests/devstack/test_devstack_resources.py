"""Resources are created from the template exactly as written (in-process moto)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from devstack.resources import create_resources
from devstack.template import Template
from moto import mock_aws

FIXTURE_TEMPLATE = Path(__file__).parent / "fixtures" / "template.yaml"
REPO_TEMPLATE = Path(__file__).resolve().parents[2] / "template.yaml"


@pytest.fixture
def session(monkeypatch: pytest.MonkeyPatch) -> Iterator[boto3.session.Session]:
    for var in ("AWS_ENDPOINT_URL", "AWS_PROFILE"):
        monkeypatch.delenv(var, raising=False)
    with mock_aws():
        yield boto3.session.Session(
            region_name="us-east-1", aws_access_key_id="testing", aws_secret_access_key="testing"
        )


def _sorted(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return sorted(items, key=json.dumps)


@pytest.mark.parametrize("path", ["fixture", "repo"])
def test_tables_match_the_template(session: boto3.session.Session, path: str) -> None:
    template = Template.load(FIXTURE_TEMPLATE if path == "fixture" else REPO_TEMPLATE, stack_name="t")
    created = create_resources(template, session)
    ddb = session.client("dynamodb")
    for logical_id, props in template.tables().items():
        name = created[logical_id].ref
        assert name.startswith(f"t-{logical_id}-")
        desc = ddb.describe_table(TableName=name)["Table"]
        assert desc["KeySchema"] == props["KeySchema"]
        assert _sorted(desc["AttributeDefinitions"]) == _sorted(props["AttributeDefinitions"])
        want_gsis = {g["IndexName"]: g["KeySchema"] for g in props.get("GlobalSecondaryIndexes", [])}
        got_gsis = {g["IndexName"]: g["KeySchema"] for g in desc.get("GlobalSecondaryIndexes", [])}
        assert got_gsis == want_gsis
        assert desc["BillingModeSummary"]["BillingMode"] == props.get("BillingMode", "PROVISIONED")
        ttl = ddb.describe_time_to_live(TableName=name)["TimeToLiveDescription"]
        if "TimeToLiveSpecification" in props:
            assert ttl["AttributeName"] == props["TimeToLiveSpecification"]["AttributeName"]
            assert ttl["TimeToLiveStatus"] == "ENABLED"


def test_queues_and_redrive(session: boto3.session.Session, fixture_template: Template) -> None:
    created = create_resources(fixture_template, session)
    assert "ExtraTable" not in created  # Condition false -> skipped
    sqs = session.client("sqs")
    attrs = sqs.get_queue_attributes(QueueUrl=created["JobsQueue"].ref, AttributeNames=["All"])["Attributes"]
    assert attrs["VisibilityTimeout"] == "1"
    assert attrs["MessageRetentionPeriod"] == "3600"
    redrive = json.loads(attrs["RedrivePolicy"])
    assert redrive["deadLetterTargetArn"] == created["JobsDeadLetterQueue"].attributes["Arn"]
    assert int(redrive["maxReceiveCount"]) == 2
    # the template now resolves to the physical names
    env = fixture_template.function("EchoFunction").environment
    assert env["ITEMS_TABLE"] == created["ItemsTable"].ref
    assert env["JOBS_QUEUE_URL"] == created["JobsQueue"].ref
    assert fixture_template.outputs()["JobsQueueUrl"] == created["JobsQueue"].ref
