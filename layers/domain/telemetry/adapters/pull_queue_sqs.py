"""PullQueue on SQS: one message per pull step, its body the JSON of :class:`PullStep`
(``{"org_id", "integration_id", "run_id", "reason", "pushed"}``; a scheduled tick's body from
EventBridge Scheduler carries the first two and ``reason`` only). Failures become
:class:`telemetry.errors.Unavailable`."""

from __future__ import annotations

import dataclasses
from typing import Any

import orjson
from botocore.exceptions import BotoCoreError, ClientError

from telemetry.adapters.aws_clients import CLIENT_LOCK, aws_client
from telemetry.errors import Unavailable
from telemetry.ports.integrations import PullStep


def step_body(step: PullStep) -> str:
    return orjson.dumps(dataclasses.asdict(step)).decode()


class SqsPullQueue:
    def __init__(self, queue_url: str, client: Any = None) -> None:
        self.queue_url = queue_url
        self._client = client

    @property
    def client(self) -> Any:
        if self._client is None:
            from botocore.config import Config

            with CLIENT_LOCK:
                if self._client is None:
                    self._client = aws_client("sqs", config=Config(retries={"max_attempts": 5, "mode": "standard"}))
        return self._client

    def send(self, step: PullStep) -> None:
        try:
            self.client.send_message(QueueUrl=self.queue_url, MessageBody=step_body(step))
        except (ClientError, BotoCoreError) as exc:
            code = exc.response.get("Error", {}).get("Code", "") if isinstance(exc, ClientError) else type(exc).__name__
            raise Unavailable(f"the pull queue refused the step ({code})") from exc
