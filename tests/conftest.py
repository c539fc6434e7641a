"""Fixtures shared by every test layer."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

# least privilege, proven: every function's AWS calls against its policy (tests/iam_audit.py)
from tests import iam_audit, status_audit
from tests.iam_audit import (  # noqa: F401
    pytest_collection_finish,
    pytest_sessionfinish,
    pytest_terminal_summary,
)


def pytest_configure(config: pytest.Config) -> None:
    iam_audit.pytest_configure(config)
    # documented means answerable, answerable means documented (tests/status_audit.py); a plugin of
    # its own: its hooks have the same names as the iam audit's
    if not config.pluginmanager.has_plugin("status_audit"):
        config.pluginmanager.register(status_audit, "status_audit")


REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def local_stack() -> Iterator[object]:
    """The whole platform on this machine, as `make run` starts it, on a free port.

    Module scope, not session: a running stack sets AWS_ENDPOINT_URL in os.environ, which the
    in-process moto tests of other modules must not see (see shared/devstack/README.md).
    """
    from tests.support import running_stack

    with running_stack() as stack:
        yield stack


@pytest.fixture(scope="module")
def api_key(local_stack: object) -> str:
    """A key with every scope for a fresh organization, issued as `make key` would."""
    from telemetry.bootstrap import container

    return container().keys.issue(f"org-{id(local_stack)}").key


@pytest.fixture(scope="module", autouse=True)
def no_composition_root_across_modules() -> Iterator[None]:
    """Each test module starts without a cached container: one built for another module's moto,
    table names or stack would otherwise serve this module's handlers."""
    from telemetry.bootstrap import container

    container.cache_clear()
    yield
    container.cache_clear()
