"""Frames in, through SQS and the writer, and back out: issue 3 through the real handlers under moto."""

from __future__ import annotations

from typing import Any

import boto3
import pytest

from tests.integration.conftest import Platform, drain

T0 = 1718884800000


class Battery:
    def __init__(self, p: Platform, org: str) -> None:
        self.p = p
        self.key = p.key(org)
        ids = {}
        for name, dtype, agg in (("soc", "Double", "Avg"), ("status", "Int", "Last")):
            body: dict[str, Any] = {"name": name, "dataType": dtype, "defaultAggregation": agg}
            if name == "status":
                body["enumValues"] = [{"code": 0, "label": "IDLE"}, {"code": 1, "label": "RUNNING"}]
            ids[name] = p.call("POST", "/v2/definitions/metrics", body, key=self.key).body["id"]
        type_id = p.call(
            "POST", "/v2/definitions/thing-types", {"displayName": "B", "metricIds": list(ids.values())}, key=self.key
        ).body["id"]
        site = p.call("POST", "/v2/sites", {"name": "S"}, key=self.key).body["id"]
        self.thing = p.call(
            "POST", f"/v2/sites/{site}/things", {"thingName": "t", "thingTypeId": type_id}, key=self.key
        ).body["id"]

    def post(self, frames: list[dict[str, Any]]) -> Any:
        return self.p.call("POST", f"/v2/thing/{self.thing}/data", {"frames": frames}, key=self.key)

    def get(self, what: str, **query: Any) -> Any:
        answer = self.p.call("GET", f"/v2/things/{self.thing}/{what}", key=self.key, query=query)
        assert answer.status == 200, answer
        return answer.body


@pytest.fixture
def battery(platform: Platform, request: pytest.FixtureRequest) -> Battery:
    return Battery(platform, request.node.name)


def test_frames_come_back_through_latest_history_and_aggregates(platform: Platform, battery: Battery) -> None:
    frames = [{"timestamp": T0 + i * 20_000, "metrics": {"soc": 50 + i, "status": "running"}} for i in range(6)]
    answer = battery.post(frames)
    assert answer.status == 200
    assert answer.body == {"thingId": battery.thing, "framesIngested": 6, "metrics": ["soc", "status"]}
    assert drain(platform) == 1  # one SQS message per accepted request
    assert battery.get("latest-event")["metrics"] == {"soc": 55.0, "status": 1}
    history = battery.get("history", start=T0, end=T0 + 200_000, metrics="soc")
    assert [f["metrics"]["soc"] for f in history["frames"]] == [50.0, 51.0, 52.0, 53.0, 54.0, 55.0]
    agg = battery.get("aggregates", start=T0, end=T0 + 120_000, interval="1m")
    assert [(b["metrics"]["soc"], b["metrics"]["status"]) for b in agg["buckets"]] == [(51.0, 1), (54.0, 1)]


def test_backfill_never_moves_latest_back(platform: Platform, battery: Battery) -> None:
    battery.post([{"timestamp": T0, "metrics": {"soc": 80}}])
    drain(platform)
    battery.post([{"timestamp": T0 - 86_400_000, "metrics": {"soc": 10}}])
    drain(platform)
    assert battery.get("latest-event")["timestamp"] == T0
    history = battery.get("history", start=T0 - 90_000_000, end=T0 + 1)
    assert [f["metrics"]["soc"] for f in history["frames"]] == [10.0, 80.0]


def test_a_bad_frame_rejects_the_request_and_nothing_is_queued(platform: Platform, battery: Battery) -> None:
    frames = [{"timestamp": T0 + i, "metrics": {"soc": i}} for i in range(10)]
    frames[7]["metrics"]["status"] = "EXPLODED"
    answer = battery.post(frames)
    assert answer.status == 400
    assert answer.body["errors"] == [
        {"path": "frames/7/metrics/status", "message": "'EXPLODED' is not a label or code of this enum"}
    ]
    assert drain(platform) == 0
    assert battery.get("latest-event")["timestamp"] is None


def test_queue_outage_is_503_and_nothing_is_stored(platform: Platform, battery: Battery) -> None:
    """A real fault, no mock: the queue is deleted under the running function, then recreated."""
    sqs = boto3.client("sqs", region_name="us-east-1")
    queue = platform.template.physical_resource("ReadingsQueue")
    attrs = sqs.get_queue_attributes(QueueUrl=queue.ref, AttributeNames=["All"])["Attributes"]
    sqs.delete_queue(QueueUrl=queue.ref)
    try:
        answer = battery.post([{"timestamp": T0, "metrics": {"soc": 1}}])
        assert (answer.status, answer.body["type"]) == (503, "urn:telemetry:problem:service-unavailable")
    finally:
        keep = {k: v for k, v in attrs.items() if k in ("VisibilityTimeout", "MessageRetentionPeriod", "RedrivePolicy")}
        sqs.create_queue(QueueName=queue.ref.rsplit("/", 1)[1], Attributes=keep)
    assert drain(platform) == 0
    assert battery.get("latest-event")["timestamp"] is None


def test_redelivered_message_writes_no_duplicate(platform: Platform, battery: Battery) -> None:
    battery.post([{"timestamp": T0 + i, "metrics": {"soc": i}} for i in range(30)])
    sqs = boto3.client("sqs", region_name="us-east-1")
    queue = platform.template.physical_resource("ReadingsQueue")
    (message,) = sqs.receive_message(QueueUrl=queue.ref, MaxNumberOfMessages=10)["Messages"]
    from devstack.poller import sqs_record

    event = {"Records": [sqs_record(message, queue.attributes["Arn"])] * 2}  # the same message twice
    result = platform.functions["WriterFunction"].invoke(event)
    assert result == {"batchItemFailures": []}
    platform.functions["WriterFunction"].invoke({"Records": [sqs_record(message, queue.attributes["Arn"])]})
    history = battery.get("history", start=T0, end=T0 + 100, pageLimit=1000)
    assert [f["metrics"]["soc"] for f in history["frames"]] == [float(i) for i in range(30)]


def test_poison_message_reaches_the_dlq_after_max_receive_count_with_its_reason_logged(
    platform: Platform,
) -> None:
    import logging

    records: list[logging.LogRecord] = []
    capture = logging.Handler()
    capture.emit = records.append  # type: ignore[method-assign]
    logging.getLogger("writer").addHandler(capture)
    sqs = boto3.client("sqs", region_name="us-east-1")
    queue = platform.template.physical_resource("ReadingsQueue")
    dlq = platform.template.physical_resource("ReadingsDeadLetterQueue")
    max_receives = int(platform.template.raw_properties("ReadingsQueue")["RedrivePolicy"]["maxReceiveCount"])
    # a failed message would come back after the template's 180 s; make it come back at once
    sqs.set_queue_attributes(QueueUrl=queue.ref, Attributes={"VisibilityTimeout": "0"})
    try:
        sqs.send_message(QueueUrl=queue.ref, MessageBody='{"v": 1, "groups": "not a list"}')
        handled = drain(platform)
    finally:
        sqs.set_queue_attributes(QueueUrl=queue.ref, Attributes={"VisibilityTimeout": "180"})
        logging.getLogger("writer").removeHandler(capture)
    assert handled == max_receives  # delivered exactly maxReceiveCount times, then redriven
    dead = sqs.receive_message(QueueUrl=dlq.ref, MaxNumberOfMessages=10).get("Messages", [])
    assert [m["Body"] for m in dead] == ['{"v": 1, "groups": "not a list"}']
    poison = [r for r in records if r.getMessage() == "poison message, left for the DLQ"]
    assert len(poison) == max_receives
    assert all("unparseable reading batch" in r.detail for r in poison)  # type: ignore[attr-defined]
