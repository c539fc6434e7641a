"""Every request limit, defined once (kept apart so importing them is free at cold start).

Handlers pass the body limits to ``entrypoint`` (refused before parsing) and the services pass
them to :mod:`telemetry.body` (refused again when a service is called directly).
"""

from __future__ import annotations

_MiB = 1024 * 1024

#: every platform-API route without its own limit
DEFAULT_MAX_BODY_BYTES = _MiB

#: POST /v2/thing/{thingId}/data, /api/data, /api/data/batch, /api/streams/ingest (413 beyond)
INGEST_MAX_BODY_BYTES = 5 * _MiB
#: POST /v2/thing/{thingId}/data: frames per request
INGEST_MAX_FRAMES = 10_000

#: POST /ingestion/v1/measurements (one sensor's batch)
AMQ_MAX_BODY_BYTES = 64 * 1024
#: GET routes of the ambiquality dialect (no body expected)
AMQ_MAX_QUERY_BODY_BYTES = 1024
#: GET /api/data (dakkio query; no body expected)
DK_MAX_QUERY_BODY_BYTES = 64 * 1024

#: POST /v2/templates/{id}/apply, /test, /transactions/apply: the request body
TEMPLATE_MAX_PAYLOAD_BYTES = _MiB

#: POST /v2/{sites,fleets}/{placeId}/things/bulk: things per request
MAX_BULK_THINGS = 100

#: readings may be dated at most this far ahead of the server clock, on every ingest path
MAX_FUTURE_MS = 24 * 3600 * 1000

#: webhook bodies (``POST /v2/integrations/{id}/webhook``): records pushed whole travel on as ONE
#: pull-queue message, whose SQS limit is 256 KiB; the rest of that is the step's own envelope
WEBHOOK_MAX_BODY_BYTES = 192 * 1024
