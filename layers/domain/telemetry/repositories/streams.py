"""Item layouts of the stream dialect in the definitions table.

================================  ==============================================================
item                              pk / sk
================================  ==============================================================
token by hash (auth lookup)       STREAMTOKEN#<sha256> / STREAMTOKEN
data stream (listing)             ORG#<org> / DATASTREAM#<dst_id>
series index                      ORG#<org> / STREAMSERIES#<metric>#<agg>#<seriesId>
================================  ==============================================================

The token lookup is the one partition without the organization (like ``APIKEY#``): it is how
the organization is found. ``<metric>`` is percent-encoded (``%`` and ``#``) so a metric name
can never reach into another metric's prefix.
"""

from __future__ import annotations

from collections.abc import Sequence

from telemetry.models.cloudthread import AggFunc, DataStream, StreamSeries
from telemetry.ports.definitions import Expect, Item, ItemStore
from telemetry.repositories.definitions import org_pk

#: DynamoDB transactions hold at most 100 items; index puts are unconditional, so chunks are fine
WRITE_CHUNK = 25


def encode_name(name: str) -> str:
    return name.replace("%", "%25").replace("#", "%23")


def series_prefix(metric: str, agg: AggFunc | None = None) -> str:
    base = f"STREAMSERIES#{encode_name(metric)}#"
    return base + f"{agg.value}#" if agg else base


class StreamRepository:
    def __init__(self, store: ItemStore) -> None:
        self.store = store

    # ------------------------------------------------------------ tokens
    def put_stream(self, stream: DataStream) -> None:
        doc = stream.model_dump(mode="json", exclude_none=True)
        self.store.write(
            [
                Item(f"STREAMTOKEN#{stream.tokenHash}", "STREAMTOKEN", doc, expect=Expect.NEW),
                Item(org_pk(stream.orgId), f"DATASTREAM#{stream.id}", doc, expect=Expect.NEW),
            ]
        )

    def stream_by_hash(self, token_hash: str) -> DataStream | None:
        found = self.store.get(f"STREAMTOKEN#{token_hash}", "STREAMTOKEN")
        return DataStream.model_validate(found.doc) if found else None

    def get_stream(self, org_id: str, stream_id: str) -> DataStream | None:
        found = self.store.get(org_pk(org_id), f"DATASTREAM#{stream_id}")
        return DataStream.model_validate(found.doc) if found else None

    def list_streams(self, org_id: str, limit: int, cursor: str | None) -> tuple[list[DataStream], str | None]:
        rows, next_cursor = self.store.query(org_pk(org_id), "DATASTREAM#", limit=limit, cursor=cursor)
        return [DataStream.model_validate(r.doc) for r in rows], next_cursor

    def delete_stream(self, stream: DataStream) -> None:
        """The lookup item goes first: from then on the token authenticates nothing."""
        self.store.delete(f"STREAMTOKEN#{stream.tokenHash}", "STREAMTOKEN")
        self.store.delete(org_pk(stream.orgId), f"DATASTREAM#{stream.id}")

    # ------------------------------------------------------------ series index
    def put_series(self, org_id: str, series: Sequence[StreamSeries]) -> None:
        """Idempotent puts (same key, same content); chunked below DynamoDB's transaction limit."""
        items = [
            Item(
                org_pk(org_id),
                series_prefix(s.metricName, s.aggFunc) + s.seriesId,
                s.model_dump(mode="json"),
            )
            for s in series
        ]
        for start in range(0, len(items), WRITE_CHUNK):
            self.store.write(items[start : start + WRITE_CHUNK])

    def list_series(
        self, org_id: str, metric: str, agg: AggFunc | None, limit: int, cursor: str | None = None
    ) -> tuple[list[StreamSeries], str | None]:
        rows, next_cursor = self.store.query(org_pk(org_id), series_prefix(metric, agg), limit=limit, cursor=cursor)
        return [StreamSeries.model_validate(r.doc) for r in rows], next_cursor

    def list_all_series(self, org_id: str, limit: int, cursor: str | None) -> tuple[list[StreamSeries], str | None]:
        rows, next_cursor = self.store.query(org_pk(org_id), "STREAMSERIES#", limit=limit, cursor=cursor)
        return [StreamSeries.model_validate(r.doc) for r in rows], next_cursor
