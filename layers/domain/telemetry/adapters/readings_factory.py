"""Build the configured ReadingStore from the environment (the template's parameters).

``READING_STORE``: ``dynamodb`` (default) with ``READINGS_TABLE``, or ``timestream`` with
``TIMESTREAM_DATABASE`` and ``TIMESTREAM_TABLE``. Adapters are imported only for the chosen store,
and their boto3 clients are created on first use, so importing this module is cheap.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

from telemetry.ports.readings import ReadingStore


def _required(env: Mapping[str, str], name: str) -> str:
    value = env.get(name, "").strip()
    if not value:
        raise ValueError(f"environment variable {name} must be set for the configured reading store")
    return value


def reading_store_from_env(env: Mapping[str, str] | None = None) -> ReadingStore:
    env = os.environ if env is None else env
    kind = env.get("READING_STORE", "").strip().lower() or "dynamodb"
    if kind == "dynamodb":
        from telemetry.adapters.readings_dynamodb import DynamoDbReadingStore

        return DynamoDbReadingStore(_required(env, "READINGS_TABLE"))
    if kind == "timestream":
        from telemetry.adapters.readings_timestream import TimestreamReadingStore

        return TimestreamReadingStore(_required(env, "TIMESTREAM_DATABASE"), _required(env, "TIMESTREAM_TABLE"))
    raise ValueError(f"READING_STORE must be 'dynamodb' or 'timestream', not {kind!r}")
