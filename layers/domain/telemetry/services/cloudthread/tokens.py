"""Data stream tokens: issued once through the platform API, stored as SHA-256, revoked at once."""

from __future__ import annotations

import secrets

from telemetry.clock import iso_from_ms, now_ms
from telemetry.errors import Forbidden, NotFound, Unauthenticated
from telemetry.ids import new_id
from telemetry.models.auth import Principal
from telemetry.models.base import Page
from telemetry.models.cloudthread import DataStream, DataStreamCreate, DataStreamCreated, DataStreamView
from telemetry.repositories.streams import StreamRepository
from telemetry.services.auth import hash_secret, require, require_unfiltered

TOKEN_PREFIX = "ctds_"
MAX_TOKEN_LENGTH = 256


def _view(stream: DataStream) -> DataStreamView:
    return DataStreamView.model_validate(stream.model_dump())


class StreamTokenService:
    def __init__(self, repo: StreamRepository) -> None:
        self.repo = repo

    def create(self, principal: Principal, body: DataStreamCreate) -> DataStreamCreated:
        require(principal, "streams:write")
        if principal.filtered:
            raise Forbidden("a key with resource filters cannot create data stream tokens")
        token = TOKEN_PREFIX + secrets.token_urlsafe(32)
        stream = DataStream(
            id=new_id("dst"),
            name=body.name,
            description=body.description,
            prefix=token[:12],
            tokenHash=hash_secret(token),
            orgId=principal.org_id,
            createdAt=iso_from_ms(now_ms()),
        )
        self.repo.put_stream(stream)
        return DataStreamCreated(**_view(stream).model_dump(), token=token)

    def list(self, principal: Principal, limit: int, cursor: str | None) -> Page[DataStreamView]:
        require(principal, "streams:read")
        if principal.filtered:  # tokens belong to the organization, to no place or thing
            return Page[DataStreamView](items=[], continuationToken=None)
        items, next_cursor = self.repo.list_streams(principal.org_id, limit, cursor)
        return Page[DataStreamView](items=[_view(s) for s in items], continuationToken=next_cursor)

    def get(self, principal: Principal, stream_id: str) -> DataStreamView:
        require(principal, "streams:read")
        require_unfiltered(principal, f"data stream {stream_id}")
        stream = self.repo.get_stream(principal.org_id, stream_id)
        if stream is None:
            raise NotFound(f"data stream {stream_id} not found")
        return _view(stream)

    def revoke(self, principal: Principal, stream_id: str) -> None:
        require(principal, "streams:write")
        require_unfiltered(principal, f"data stream {stream_id}")
        stream = self.repo.get_stream(principal.org_id, stream_id)
        if stream is None:
            raise NotFound(f"data stream {stream_id} not found")
        self.repo.delete_stream(stream)

    def authenticate(self, token: object) -> DataStream:
        """The stream a body token belongs to. Never cached: a revoked token fails on the next call."""
        if not isinstance(token, str) or not token:
            raise Unauthenticated("send the data stream token in the body field 'data_stream_token'")
        if not token.startswith(TOKEN_PREFIX) or len(token) > MAX_TOKEN_LENGTH:
            raise Unauthenticated("invalid data stream token")
        stream = self.repo.stream_by_hash(hash_secret(token))
        if stream is None:
            raise Unauthenticated("invalid data stream token")
        return stream
