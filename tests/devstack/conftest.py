"""Shared fixtures of the devstack tests."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from devstack.stack import LocalStack
from devstack.template import Template

FIXTURES = Path(__file__).parent / "fixtures"
FIXTURE_TEMPLATE = FIXTURES / "template.yaml"
REPO_TEMPLATE = Path(__file__).resolve().parents[2] / "template.yaml"


@pytest.fixture
def fixture_template() -> Template:
    return Template.load(FIXTURE_TEMPLATE, stack_name="t")


@pytest.fixture(scope="module")
def stack() -> Iterator[LocalStack]:
    """One local stack per test module (moto in a thread, gateway on a free port).

    Module scope on purpose: the stack sets AWS_ENDPOINT_URL in os.environ, which other
    modules' ``mock_aws`` tests must not see, and ``mock_aws`` resets moto's in-process backends.
    """
    with LocalStack(FIXTURE_TEMPLATE, stack_name="t", port=0, speedup=60) as running:
        yield running
