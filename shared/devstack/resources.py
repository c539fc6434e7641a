"""Create the template's DynamoDB tables and SQS queues (and its Scheduler schedule groups and
IAM roles, which the integrations need to exist in moto) on a boto3 session (moto or AWS-compatible).

Tables and queues are built from their template properties exactly as written, so tests using
these resources can never drift from ``template.yaml``. Works both against a moto server
(``endpoint_url``) and in-process under ``moto.mock_aws`` (no endpoint).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from typing import Any

import boto3

from .template import (
    ACCOUNT_ID,
    QUEUE_TYPE,
    REGION,
    TABLE_TYPE,
    PhysicalResource,
    Template,
    TemplateError,
    physical_name,
)

log = logging.getLogger("devstack.resources")

# Template property -> CreateQueue attribute (SQS wants every attribute value as a string).
_QUEUE_ATTRIBUTES = (
    "ContentBasedDeduplication",
    "DeduplicationScope",
    "DelaySeconds",
    "FifoQueue",
    "FifoThroughputLimit",
    "KmsDataKeyReusePeriodSeconds",
    "KmsMasterKeyId",
    "MaximumMessageSize",
    "MessageRetentionPeriod",
    "ReceiveMessageWaitTimeSeconds",
    "RedriveAllowPolicy",
    "RedrivePolicy",
    "SqsManagedSseEnabled",
    "VisibilityTimeout",
)


def _attr_str(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (dict, list)):
        return json.dumps(value)
    return str(value)


def _throughput(spec: Mapping[str, Any] | None) -> dict[str, int] | None:
    if not spec:
        return None
    return {
        "ReadCapacityUnits": int(spec["ReadCapacityUnits"]),
        "WriteCapacityUnits": int(spec["WriteCapacityUnits"]),
    }


def table_request(name: str, props: Mapping[str, Any]) -> dict[str, Any]:
    """Translate resolved ``AWS::DynamoDB::Table`` properties into a CreateTable request."""
    billing = props.get("BillingMode", "PROVISIONED")
    request: dict[str, Any] = {
        "TableName": name,
        "AttributeDefinitions": props["AttributeDefinitions"],
        "KeySchema": props["KeySchema"],
        "BillingMode": billing,
    }
    if billing == "PROVISIONED":
        request["ProvisionedThroughput"] = _throughput(props.get("ProvisionedThroughput")) or {
            "ReadCapacityUnits": 5,
            "WriteCapacityUnits": 5,
        }
    for key in ("GlobalSecondaryIndexes", "LocalSecondaryIndexes"):
        indexes = []
        for index in props.get(key) or []:
            entry: dict[str, Any] = {
                "IndexName": index["IndexName"],
                "KeySchema": index["KeySchema"],
                "Projection": index.get("Projection", {"ProjectionType": "ALL"}),
            }
            throughput = _throughput(index.get("ProvisionedThroughput"))
            if key == "GlobalSecondaryIndexes" and billing == "PROVISIONED":
                entry["ProvisionedThroughput"] = throughput or request["ProvisionedThroughput"]
            indexes.append(entry)
        if indexes:
            request[key] = indexes
    stream = props.get("StreamSpecification")
    if stream:
        request["StreamSpecification"] = {"StreamEnabled": True, "StreamViewType": stream["StreamViewType"]}
    if props.get("Tags"):
        request["Tags"] = props["Tags"]
    return request


def _queue_order(template: Template, queue_ids: list[str]) -> list[str]:
    """Queues sorted so that every queue comes after the queues it references (its DLQ)."""
    deps = {q: template.references(template.raw_properties(q)) & set(queue_ids) for q in queue_ids}
    ordered: list[str] = []
    visiting: set[str] = set()

    def visit(q: str) -> None:
        if q in ordered:
            return
        if q in visiting:
            raise TemplateError(f"queue reference cycle through {q}")
        visiting.add(q)
        for d in sorted(deps[q]):
            visit(d)
        visiting.discard(q)
        ordered.append(q)

    for q in queue_ids:
        visit(q)
    return ordered


def create_tables(
    template: Template,
    session: boto3.session.Session,
    *,
    endpoint_url: str | None = None,
) -> dict[str, PhysicalResource]:
    client = session.client("dynamodb", endpoint_url=endpoint_url)
    created: dict[str, PhysicalResource] = {}
    for logical_id, props in template.tables().items():
        name = props.get("TableName") or physical_name(template.stack_name, logical_id, max_length=255)
        desc = client.create_table(**table_request(name, props))["TableDescription"]
        ttl = props.get("TimeToLiveSpecification")
        if ttl and ttl.get("Enabled", True) not in (False, "false"):
            client.update_time_to_live(
                TableName=name,
                TimeToLiveSpecification={"Enabled": True, "AttributeName": ttl["AttributeName"]},
            )
        attrs = {"Arn": desc.get("TableArn") or f"arn:aws:dynamodb:{REGION}:{ACCOUNT_ID}:table/{name}"}
        if desc.get("LatestStreamArn"):
            attrs["StreamArn"] = desc["LatestStreamArn"]
        res = PhysicalResource(logical_id, TABLE_TYPE, name, attrs)
        template.bind({logical_id: res})
        created[logical_id] = res
        log.info("table %s -> %s", logical_id, name)
    return created


def create_queues(
    template: Template,
    session: boto3.session.Session,
    *,
    endpoint_url: str | None = None,
) -> dict[str, PhysicalResource]:
    client = session.client("sqs", endpoint_url=endpoint_url)
    created: dict[str, PhysicalResource] = {}
    for logical_id in _queue_order(template, template.queue_ids()):
        # Resolve only now: the DLQ this queue points at has just been bound.
        props = template.resolve(template.raw_properties(logical_id))
        fifo = str(props.get("FifoQueue", "")).lower() == "true"
        name = props.get("QueueName") or physical_name(
            template.stack_name, logical_id, max_length=80 - (5 if fifo else 0)
        )
        if fifo and not name.endswith(".fifo"):
            name += ".fifo"
        attributes: dict[str, Any] = {k: _attr_str(props[k]) for k in _QUEUE_ATTRIBUTES if k in props}
        request: dict[str, Any] = {"QueueName": name, "Attributes": attributes}
        url = client.create_queue(**request)["QueueUrl"]
        arn = client.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        res = PhysicalResource(logical_id, QUEUE_TYPE, url, {"Arn": arn, "QueueName": name, "QueueUrl": url})
        template.bind({logical_id: res})
        created[logical_id] = res
        log.info("queue %s -> %s", logical_id, name)
    return created


def create_timestream(
    template: Template,
    session: boto3.session.Session,
    *,
    endpoint_url: str | None = None,
) -> dict[str, PhysicalResource]:
    """Timestream database/table when the template enables them (moto implements both)."""
    created: dict[str, PhysicalResource] = {}
    db_ids = [
        lid
        for lid, r in template.resources.items()
        if r.get("Type") == "AWS::Timestream::Database" and template.resource_enabled(lid)
    ]
    table_ids = [
        lid
        for lid, r in template.resources.items()
        if r.get("Type") == "AWS::Timestream::Table" and template.resource_enabled(lid)
    ]
    if not db_ids and not table_ids:
        return created
    client = session.client("timestream-write", endpoint_url=endpoint_url)
    for lid in db_ids:
        props = template.resolve(template.raw_properties(lid))
        name = props.get("DatabaseName") or physical_name(template.stack_name, lid, max_length=256)
        arn = client.create_database(DatabaseName=name)["Database"]["Arn"]
        created[lid] = PhysicalResource(lid, "AWS::Timestream::Database", name, {"Arn": arn})
        template.bind({lid: created[lid]})
    for lid in table_ids:
        props = template.resolve(template.raw_properties(lid))
        db = props["DatabaseName"]
        name = props.get("TableName") or physical_name(template.stack_name, lid, max_length=256)
        request: dict[str, Any] = {"DatabaseName": db, "TableName": name}
        retention = props.get("RetentionProperties")
        if retention:
            request["RetentionProperties"] = {k: int(v) for k, v in retention.items()}
        arn = client.create_table(**request)["Table"]["Arn"]
        created[lid] = PhysicalResource(lid, "AWS::Timestream::Table", f"{db}|{name}", {"Arn": arn, "Name": name})
        template.bind({lid: created[lid]})
    return created


SCHEDULE_GROUP_TYPE = "AWS::Scheduler::ScheduleGroup"
ROLE_TYPE = "AWS::IAM::Role"


def create_schedule_groups(
    template: Template,
    session: boto3.session.Session,
    *,
    endpoint_url: str | None = None,
) -> dict[str, PhysicalResource]:
    """EventBridge Scheduler groups (moto stores the schedules the API creates in them; the local
    stack fires what it finds there). ``Ref`` is the group name, as in CloudFormation."""
    ids = [
        lid
        for lid, r in template.resources.items()
        if r.get("Type") == SCHEDULE_GROUP_TYPE and template.resource_enabled(lid)
    ]
    created: dict[str, PhysicalResource] = {}
    if not ids:
        return created
    client = session.client("scheduler", endpoint_url=endpoint_url)
    for lid in ids:
        props = template.resolve(template.raw_properties(lid))
        name = props.get("Name") or physical_name(template.stack_name, lid, max_length=64)
        arn = client.create_schedule_group(Name=name)["ScheduleGroupArn"]
        created[lid] = PhysicalResource(lid, SCHEDULE_GROUP_TYPE, name, {"Arn": arn})
        template.bind({lid: created[lid]})
        log.info("schedule group %s -> %s", lid, name)
    return created


def create_roles(
    template: Template,
    session: boto3.session.Session,
    *,
    endpoint_url: str | None = None,
) -> dict[str, PhysicalResource]:
    """IAM roles with their trust and inline policies (managed policy ARNs are not attached:
    moto does not enforce IAM), so ``GetAtt Role.Arn`` is a real ARN in moto."""
    ids = [
        lid for lid, r in template.resources.items() if r.get("Type") == ROLE_TYPE and template.resource_enabled(lid)
    ]
    created: dict[str, PhysicalResource] = {}
    if not ids:
        return created
    client = session.client("iam", endpoint_url=endpoint_url)
    for lid in ids:
        props = template.resolve(template.raw_properties(lid))
        name = props.get("RoleName") or physical_name(template.stack_name, lid, max_length=64)
        role = client.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(props["AssumeRolePolicyDocument"]))
        for policy in props.get("Policies") or []:
            client.put_role_policy(
                RoleName=name, PolicyName=policy["PolicyName"], PolicyDocument=json.dumps(policy["PolicyDocument"])
            )
        created[lid] = PhysicalResource(
            lid, ROLE_TYPE, name, {"Arn": role["Role"]["Arn"], "RoleId": role["Role"]["RoleId"]}
        )
        template.bind({lid: created[lid]})
        log.info("role %s -> %s", lid, name)
    return created


def create_resources(
    template: Template,
    session: boto3.session.Session | None = None,
    *,
    endpoint_url: str | None = None,
) -> dict[str, PhysicalResource]:
    """Create every enabled table and queue (and Timestream resource, schedule group, role) of ``template``.

    Binds each created resource into ``template`` so later ``Ref``/``GetAtt`` resolve to the
    physical names, and returns logical id -> :class:`PhysicalResource` (``ref`` is the table
    name / queue URL, ``attributes`` hold ``Arn``, ``QueueName``, ...). ``endpoint_url=None``
    lets boto3 pick the endpoint (``AWS_ENDPOINT_URL`` or in-process ``mock_aws``).
    """
    session = session or boto3.session.Session(region_name=REGION)
    created: dict[str, PhysicalResource] = {}
    created.update(create_tables(template, session, endpoint_url=endpoint_url))
    created.update(create_queues(template, session, endpoint_url=endpoint_url))
    created.update(create_timestream(template, session, endpoint_url=endpoint_url))
    created.update(create_schedule_groups(template, session, endpoint_url=endpoint_url))
    created.update(create_roles(template, session, endpoint_url=endpoint_url))
    return created
