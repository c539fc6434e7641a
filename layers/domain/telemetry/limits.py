"""Request limits that handlers need at import time (kept apart so importing them is free)."""

from __future__ import annotations

#: POST /v2/thing/{thingId}/data: body size and frame count (413 beyond either)
INGEST_MAX_BODY_BYTES = 5 * 1024 * 1024
INGEST_MAX_FRAMES = 10_000

#: POST /v2/{sites,fleets}/{placeId}/things/bulk: things per request
MAX_BULK_THINGS = 100
