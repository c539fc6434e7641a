"""In-memory SecretStore, PullScheduler and PullQueue (the integrations ports), for tests."""

from __future__ import annotations

import copy
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from telemetry.errors import NotFound, Unavailable
from telemetry.ports.integrations import PullStep


class InMemorySecretStore:
    def __init__(self) -> None:
        self.secrets: dict[str, dict[str, Any]] = {}  #: by ARN

    @staticmethod
    def arn(name: str) -> str:
        return f"arn:aws:secretsmanager:us-east-1:000000000000:secret:{name}"

    def put(self, name: str, value: Mapping[str, Any]) -> str:
        arn = self.arn(name)
        self.secrets[arn] = copy.deepcopy(dict(value))
        return arn

    def get(self, arn: str) -> dict[str, Any]:
        if arn not in self.secrets:
            raise NotFound("the integration's credentials are not set")
        return copy.deepcopy(self.secrets[arn])

    def delete(self, arn: str) -> None:
        self.secrets.pop(arn, None)


@dataclass(frozen=True, slots=True)
class FakeSchedule:
    every_minutes: int
    enabled: bool


class InMemoryPullScheduler:
    def __init__(self) -> None:
        self.schedules: dict[tuple[str, str], FakeSchedule] = {}
        self.fail = False  #: the next calls raise Unavailable (the scheduler is down)

    def upsert(self, org_id: str, integration_id: str, every_minutes: int, enabled: bool) -> None:
        if self.fail:
            raise Unavailable("the scheduler failed (test)")
        self.schedules[(org_id, integration_id)] = FakeSchedule(every_minutes, enabled)

    def delete(self, org_id: str, integration_id: str) -> None:
        if self.fail:
            raise Unavailable("the scheduler failed (test)")
        self.schedules.pop((org_id, integration_id), None)


class InMemoryPullQueue:
    def __init__(self) -> None:
        self.steps: list[PullStep] = []
        self.fail = False  #: sends raise Unavailable (the queue refuses)

    def send(self, step: PullStep) -> None:
        if self.fail:
            raise Unavailable("the pull queue refused the step (test)")
        self.steps.append(step)
