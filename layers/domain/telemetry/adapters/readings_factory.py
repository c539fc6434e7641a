"""Build the configured ReadingStore from the settings (the template's ReadingStoreBackend).

``dynamodb`` (default) with ``READINGS_TABLE``, or ``timestream`` with ``TIMESTREAM_DATABASE``
and ``TIMESTREAM_TABLE``. Adapters are imported only for the chosen store, and their boto3
clients are created on first use, so importing this module is cheap.
"""

from __future__ import annotations

from telemetry.ports.readings import ReadingStore
from telemetry.settings import Settings


def reading_store(settings: Settings) -> ReadingStore:
    if settings.reading_store == "timestream":
        from telemetry.adapters.readings_timestream import TimestreamReadingStore

        return TimestreamReadingStore(
            settings.required("timestream_database", "TIMESTREAM_DATABASE"),
            settings.required("timestream_table", "TIMESTREAM_TABLE"),
            endpoint_url=settings.aws_endpoint_url,
        )
    from telemetry.adapters.readings_dynamodb import DynamoDbReadingStore

    return DynamoDbReadingStore(
        settings.required("readings_table", "READINGS_TABLE"), retention_days=dict(settings.readings_retention)
    )
