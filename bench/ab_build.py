"""Lay another tree's domain code into a copy of the native build, for a same-minute cold-start A/B.

    .venv/bin/python bench/ab_build.py <tree> <dest>     # e.g. a `git archive main` unpacked in /tmp
    BENCH_BASELINE_DIR=<dest> .venv/bin/python bench/bench_cold_start.py

The copy hard-links everything of ``.aws-sam/build-<arch>`` (the dependency layers are the same
for both sides) except the domain layer and every function's code, which come from ``<tree>``
and are precompiled the way the build precompiles them (``layers/layer.mk``: unchecked-hash
``.pyc``). With ``<tree>`` = this worktree it refreshes a build after a domain change without a
full ``make build-native``.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BUILD_DIR = ROOT / ".aws-sam" / f"build-{os.uname().machine}"
PYTHON = ROOT / ".venv-build" / "bin" / "python"


def main(tree: Path, dest: Path) -> None:
    sys.path[:0] = [str(ROOT / "shared")]
    from devstack.template import Template

    if dest.exists():
        shutil.rmtree(dest)
    subprocess.run(["cp", "-al", str(BUILD_DIR), str(dest)], check=True)
    domain = dest / "DomainLayer" / "python" / "telemetry"
    shutil.rmtree(domain)
    shutil.copytree(tree / "layers" / "domain" / "telemetry", domain, ignore=shutil.ignore_patterns("__pycache__"))
    for spec in Template.load(tree / "template.yaml").functions():
        code = dest / spec.logical_id
        shutil.rmtree(code)
        shutil.copytree(spec.code_dir, code, ignore=shutil.ignore_patterns("__pycache__"))
    compile_ = [str(PYTHON), "-m", "compileall", "-q", "-j", "0", "--invalidation-mode", "unchecked-hash"]
    subprocess.run([*compile_, str(domain.parent), *map(str, dest.glob("*Function"))], check=True)


if __name__ == "__main__":
    main(Path(sys.argv[1]).resolve(), Path(sys.argv[2]).resolve())
