"""Pull-queue message bodies -> PullStep: the platform's own, the Scheduler's Input, and poison."""

from __future__ import annotations

import dataclasses

import pytest
from telemetry.adapters.pull_queue_sqs import step_body
from telemetry.ports.integrations import PullStep
from telemetry.services.integrations.steps import PoisonStep, parse_step


def test_the_schedulers_input_is_a_scheduled_step_without_a_run() -> None:
    step = parse_step(b'{"org_id": "org_a", "integration_id": "intg_b", "reason": "schedule"}')
    assert step == PullStep("org_a", "intg_b", run_id=None, reason="schedule", pushed=[])


def test_camel_case_ids_are_read_too_and_reason_defaults_to_schedule() -> None:
    assert parse_step('{"orgId": "org_a", "integrationId": "intg_b"}') == PullStep("org_a", "intg_b")


@pytest.mark.parametrize(
    "step",
    [
        PullStep("org_a", "intg_b", "run_1", "manual"),
        PullStep("org_a", "intg_b", "run_1", "continue"),
        PullStep("org_a", "intg_b", "run_2", "webhook", pushed=[{"device": "d", "t": 1}]),
    ],
)
def test_what_the_pull_queue_adapter_sends_reads_back_unchanged(step: PullStep) -> None:
    assert parse_step(step_body(step)) == step
    assert dataclasses.asdict(parse_step(step_body(step))) == dataclasses.asdict(step)


@pytest.mark.parametrize(
    ("body", "named"),
    [
        (b"not json", "not JSON"),
        (b"[1]", "JSON object"),
        (b'{"integration_id": "intg_b"}', "org_id"),
        (b'{"org_id": "org_a"}', "integration_id"),
        (b'{"org_id": "org/../x", "integration_id": "intg_b"}', "org_id"),
        (b'{"org_id": "org_a", "integration_id": "intg_b", "run_id": 7}', "run_id"),
        (b'{"org_id": "org_a", "integration_id": "intg_b", "reason": "because"}', "reason"),
        (b'{"org_id": "org_a", "integration_id": "intg_b", "pushed": [1]}', "pushed"),
    ],
)
def test_a_body_that_can_never_be_a_step_is_poison_naming_the_field(body: bytes, named: str) -> None:
    with pytest.raises(PoisonStep, match=named):
        parse_step(body)
