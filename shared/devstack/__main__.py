"""``python -m devstack`` is ``telemetry-dev``."""

from .cli import main

raise SystemExit(main())
