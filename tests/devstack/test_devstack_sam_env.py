"""`sam local start-api` support: the env-vars file the local stack writes beside its state."""

from __future__ import annotations

import json
from pathlib import Path

from devstack.stack import SAM_ENV_FILE, LocalStack

from tests.devstack.conftest import FIXTURE_TEMPLATE


def test_run_writes_sam_env_vars_with_physical_names_and_the_docker_host_endpoint(tmp_path: Path) -> None:
    state = tmp_path / "state.json"
    with LocalStack(FIXTURE_TEMPLATE, stack_name="t", port=0, state_file=state, schedules=False) as stack:
        env = json.loads((tmp_path / SAM_ENV_FILE).read_text())["Parameters"]
        port = stack.endpoint_url.rsplit(":", 1)[1]
        assert env["AWS_ENDPOINT_URL"] == f"http://host.docker.internal:{port}"
        tables = {name: stack.physical(name) for name in stack.template.tables()}
        assert tables and set(tables.values()) <= set(env.values()), "every table's physical name is passed"
    assert not (tmp_path / SAM_ENV_FILE).exists(), "removed with the state file on stop"


def test_each_function_gets_its_own_section_and_the_state_dir_the_latest_file(tmp_path: Path) -> None:
    with LocalStack(FIXTURE_TEMPLATE, stack_name="t", port=0, state_dir=tmp_path, schedules=False) as stack:
        latest = json.loads((tmp_path / SAM_ENV_FILE).read_text())
        assert latest == json.loads((tmp_path / str(stack.gateway.port) / SAM_ENV_FILE).read_text())
        echo = latest["EchoFunction"]
        assert echo["AWS_ENDPOINT_URL"] == latest["Parameters"]["AWS_ENDPOINT_URL"]
        assert set(echo) == set(stack.functions["EchoFunction"].spec.environment) | {"AWS_ENDPOINT_URL"}
        assert set(latest) == {"Parameters", *stack.functions}
    assert not (tmp_path / SAM_ENV_FILE).exists(), "removed with its stack"
