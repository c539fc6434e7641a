"""Template limits (see ``docs/templates.md``)."""

from __future__ import annotations

from telemetry.limits import TEMPLATE_MAX_PAYLOAD_BYTES

MAX_MAPPINGS = 100
"""Mappings (or declared metric ids, or attribute selectors) per template."""

MAX_SPEC_BYTES = 256 * 1024
"""The spec serialized as compact JSON must be strictly smaller than this."""

MAX_PAYLOAD_BYTES = TEMPLATE_MAX_PAYLOAD_BYTES
"""An apply/test request body may be at most this many bytes (defined in telemetry.limits)."""

MAX_RECORDS = 1000
"""Records per apply request, as the spec says: ``JsonPointer`` (``recordsPointer`` array items),
readings returned by a ``JavaScriptHandler``, and CAN frames for ``Dbc``."""

MAX_SCRIPT_RESULT_CHARS = 8 * 1024 * 1024
"""A ``JavaScriptHandler`` result, as JSON text, may be at most this many characters (UTF-16 units).
Checked inside V8 before the text reaches Python: 1,000 readings of 100 metrics fit with room."""

MAX_DBC_FRAMES = MAX_RECORDS
"""CAN frames per request for ``Dbc``: each frame is one record of the spec's 1,000-record limit."""

MAX_TIMESTAMP_MS = 253_402_300_799_999
"""9999-12-31T23:59:59.999Z; record timestamps must lie in ``[0, MAX_TIMESTAMP_MS]``."""

# JavaScriptHandler caps are on the spec model (timeoutMs 1..5000, default 1000; memoryLimitMb
# 16..256, default 64): see telemetry.models.templates.JavaScriptHandlerSpec.
