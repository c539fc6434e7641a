"""telemetry.coldstart: no cyclic GC from the handler's first import to the end of its first
invocation on Lambda, then a frozen heap and the collector back on; untouched anywhere else.
Each case runs in a fresh interpreter (the module acts when it is imported)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]

CHILD = """
import gc, json
from telemetry.coldstart import cold_start
states = [(gc.isenabled(), gc.get_freeze_count() > 0)]

@cold_start
def handler(event, context):
    states.append((gc.isenabled(), gc.get_freeze_count() > 0))
    if event == "fail":
        raise RuntimeError(event)
    return event

try:
    handler("fail", None)
except RuntimeError:
    pass
states.append((gc.isenabled(), gc.get_freeze_count() > 0))
frozen = gc.get_freeze_count()
assert handler("warm", None) == "warm" and handler.__name__ == "handler"
states.append((gc.isenabled(), gc.get_freeze_count() != frozen))  # the last: frozen again?
print(json.dumps(states))
"""


def _states(env: dict[str, str]) -> list[list[bool]]:
    run = subprocess.run(
        [sys.executable, "-c", CHILD],
        env={"PYTHONPATH": str(REPO / "layers" / "domain"), "PATH": "/usr/bin:/bin", **env},
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert run.returncode == 0, run.stderr
    return list(json.loads(run.stdout))


def test_on_lambda_the_first_invocation_runs_without_gc_then_freezes_and_turns_it_back_on() -> None:
    # [enabled, frozen] at import: off, nothing frozen; in the first invocation (it raises): still
    # off; after it: on and frozen; in a warm invocation: on; after it: on, not frozen again
    assert _states({"LAMBDA_TASK_ROOT": "/var/task"}) == [
        [False, False],
        [False, False],
        [True, True],
        [True, True],
        [True, False],
    ]


def test_off_lambda_the_collector_is_left_alone() -> None:
    assert _states({}) == [[True, False]] * 5
