"""The server's request limits, mirrored so the client splits before sending.

The client cannot import the server's ``telemetry.limits`` (it talks to a deployed stack from
anywhere); ``tests/unit/telemetry_client/test_limits.py`` holds these equal to the server's.
"""

from __future__ import annotations

_MiB = 1024 * 1024

#: POST /v2/thing/{thingId}/data
MAX_FRAMES = 10_000
MAX_INGEST_BYTES = 5 * _MiB
#: POST /v2/{sites,fleets}/{placeId}/things/bulk
MAX_BULK_THINGS = 100
#: template test / apply / transactions apply: records (recordsPointer items) and body bytes
MAX_TEMPLATE_RECORDS = 1000
MAX_TEMPLATE_BYTES = _MiB
#: POST /api/data/batch (docs/dakkio.md)
MAX_DAKKIO_POINTS = 1000
#: POST /api/streams/ingest (docs/cloudthread.md)
MAX_CLOUDTHREAD_ITEMS = 5000
#: POST /ingestion/v1/measurements: one sensor's batch, never split (all-or-nothing, rate-limited)
MAX_AMQ_BYTES = 64 * 1024
