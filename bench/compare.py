"""Print the change of every bench figure against an earlier run (``make bench-compare``).

    .venv/bin/python bench/compare.py              # bench/results.json vs bench/results.previous.json
    .venv/bin/python bench/compare.py HEAD~3       # vs bench/results.json as committed at a git ref

The previous file holds, per bench, the run that the latest one replaced (see ``_harness``).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parent))
from _harness import BENCH_DIR, PREVIOUS, RESULTS, load


def at_ref(ref: str) -> dict[str, Any]:
    out = subprocess.run(
        ["git", "show", f"{ref}:bench/results.json"], cwd=BENCH_DIR, capture_output=True, text=True, check=False
    )
    if out.returncode:
        sys.exit(f"no bench/results.json at {ref}: {out.stderr.strip()}")
    data = json.loads(out.stdout)
    return data if isinstance(data, dict) else {}


def main() -> None:
    current = load(RESULTS)
    base = at_ref(sys.argv[1]) if len(sys.argv) > 1 else load(PREVIOUS)
    label = sys.argv[1] if len(sys.argv) > 1 else PREVIOUS.name
    if not current:
        sys.exit("no bench/results.json yet: run `make bench` first")
    for bench, entry in sorted(current.items()):
        before = base.get(bench)
        when = f"{entry['commit']} {entry['time']}"
        print(f"== {bench}  {when}  vs  " + (f"{before['commit']} {before['time']} ({label})" if before else "nothing"))
        for name, fig in entry["figures"].items():
            old = (before or {}).get("figures", {}).get(name)
            now = fig["value"]
            mark = {True: "MEETS", False: "MISSES", None: ""}[fig["meets"]]
            if old is None:
                change = "new"
            elif old["value"] == 0:
                change = f"was {old['value']:g}"
            else:
                change = f"{(now - old['value']) / abs(old['value']) * 100:+.1f}% (was {old['value']:.4g})"
            print(f"  {name}: {now:.4g} {fig['unit']} {fig['target']} {mark}  {change}")


if __name__ == "__main__":
    main()
