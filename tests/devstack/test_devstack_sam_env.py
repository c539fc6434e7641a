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
