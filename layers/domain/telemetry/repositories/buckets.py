"""Item layouts of the bucket dialect in the definitions table.

================================  ==============================================================
item                              pk / sk
================================  ==============================================================
bucket                            ORG#<org> / BUCKET#<objectId>
data source                       ORG#<org> / DATASOURCE#<bucketId>#<objectId>
rate-limit state of a key         ORG#<org> / RATE#dakkio#<keyId>   (TTL ``expiresAt``)
================================  ==============================================================
"""

from __future__ import annotations

from telemetry.models.dakkio import Bucket, DataSource
from telemetry.ports.definitions import Expect, Item, ItemStore
from telemetry.repositories.definitions import org_pk


class BucketRepository:
    def __init__(self, store: ItemStore) -> None:
        self.store = store

    def put_bucket(self, org_id: str, bucket: Bucket) -> None:
        self.store.write(
            [Item(org_pk(org_id), f"BUCKET#{bucket.id}", bucket.model_dump(mode="json"), expect=Expect.NEW)]
        )

    def get_bucket(self, org_id: str, bucket_id: str) -> Bucket | None:
        found = self.store.get(org_pk(org_id), f"BUCKET#{bucket_id}")
        return Bucket.model_validate(found.doc) if found else None

    def list_buckets(self, org_id: str, limit: int, cursor: str | None) -> tuple[list[Bucket], str | None]:
        rows, next_cursor = self.store.query(org_pk(org_id), "BUCKET#", limit=limit, cursor=cursor)
        return [Bucket.model_validate(r.doc) for r in rows], next_cursor

    def put_data_source(self, org_id: str, source: DataSource) -> None:
        self.store.write(
            [
                Item(
                    org_pk(org_id),
                    f"DATASOURCE#{source.bucketId}#{source.id}",
                    source.model_dump(mode="json"),
                    expect=Expect.NEW,
                )
            ]
        )

    def get_bucket_and_source(
        self, org_id: str, bucket_id: str, source_ids: list[str]
    ) -> tuple[Bucket | None, dict[str, DataSource]]:
        """The bucket and those of the data sources that belong to it, in one batch read."""
        pk = org_pk(org_id)
        keys = [(pk, f"BUCKET#{bucket_id}")] + [(pk, f"DATASOURCE#{bucket_id}#{s}") for s in source_ids]
        rows = self.store.batch_get(keys)
        bucket: Bucket | None = None
        sources: dict[str, DataSource] = {}
        for row in rows:
            if row.sk.startswith("BUCKET#"):
                bucket = Bucket.model_validate(row.doc)
            else:
                source = DataSource.model_validate(row.doc)
                sources[source.id] = source
        return bucket, sources

    def list_data_sources(
        self, org_id: str, bucket_id: str, limit: int, cursor: str | None
    ) -> tuple[list[DataSource], str | None]:
        rows, next_cursor = self.store.query(org_pk(org_id), f"DATASOURCE#{bucket_id}#", limit=limit, cursor=cursor)
        return [DataSource.model_validate(r.doc) for r in rows], next_cursor
