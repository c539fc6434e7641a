"""In-memory ItemStore with the same semantics as DynamoDbItemStore, for unit tests."""

from __future__ import annotations

import copy
import threading
from collections.abc import Sequence

from telemetry.cursor import decode_cursor, encode_cursor
from telemetry.errors import Conflict, NotFound, ValidationFailed
from telemetry.ports.definitions import Expect, Item, Stored


class InMemoryItemStore:
    def __init__(self) -> None:
        self._items: dict[tuple[str, str], tuple[Item, int]] = {}
        self._leases: dict[tuple[str, str], int] = {}
        self._lock = threading.Lock()
        self.reads = 0

    def get(self, pk: str, sk: str) -> Stored | None:
        self.reads += 1
        found = self._items.get((pk, sk))
        return _stored(*found) if found else None

    def batch_get(self, keys: Sequence[tuple[str, str]]) -> list[Stored]:
        self.reads += 1
        return [_stored(*self._items[k]) for k in dict.fromkeys(keys) if k in self._items]

    def write(self, items: Sequence[Item]) -> None:
        with self._lock:
            for item in items:
                current = self._items.get((item.pk, item.sk))
                ok = {
                    Expect.ANY: True,
                    Expect.NEW: current is None,
                    Expect.EXISTS: current is not None,
                    Expect.VERSION: (current[1] if current else 0) == item.expected_ver,
                    Expect.LEASE: current is None or self._leases.get((item.pk, item.sk), 0) <= item.lease_now,
                }[item.expect]
                if not ok:
                    what = item.label or f"{item.pk}/{item.sk}"
                    if item.expect is Expect.EXISTS:
                        raise NotFound(f"{what} does not exist")
                    if item.expect is Expect.VERSION:
                        raise Conflict(f"{what} was changed concurrently; retry")
                    if item.expect is Expect.LEASE:
                        raise Conflict(f"{what} is held")
                    raise Conflict(f"{what} already exists")
            for item in items:
                ver = item.expected_ver + 1 if item.expect is Expect.VERSION else 1
                self._items[(item.pk, item.sk)] = (copy.deepcopy(item), ver)
                if item.expect is Expect.LEASE:
                    self._leases[(item.pk, item.sk)] = item.lease_until

    def delete(self, pk: str, sk: str) -> None:
        with self._lock:
            self._items.pop((pk, sk), None)

    def query(
        self,
        pk: str,
        sk_prefix: str = "",
        *,
        limit: int = 100,
        cursor: str | None = None,
        index: str | None = None,
        descending: bool = False,
    ) -> tuple[list[Stored], str | None]:
        self.reads += 1
        if index:
            rows = [
                ((i.gsi1sk or i.sk, i.pk, i.sk), (i, v))
                for (_, _), (i, v) in self._items.items()
                if i.gsi1pk == pk and (i.gsi1sk or i.sk).startswith(sk_prefix)
            ]
        else:
            rows = [
                ((k[1], k[0], k[1]), (i, v))
                for k, (i, v) in self._items.items()
                if k[0] == pk and k[1].startswith(sk_prefix)
            ]
        rows.sort(key=lambda r: r[0], reverse=descending)
        if cursor:
            data = decode_cursor(cursor)
            try:
                position = (
                    (str(data["g"]), str(data["p"]), str(data["s"])) if index else (str(data["s"]), pk, str(data["s"]))
                )
            except KeyError:
                raise ValidationFailed.single(["continuationToken"], "is not a valid continuation token") from None
            rows = [r for r in rows if (r[0] < position if descending else r[0] > position)]
        page = rows[:limit]
        next_cursor = None
        if len(rows) > limit:
            last = page[-1][1][0]
            data = {"s": last.sk}
            if index:
                data.update(p=last.pk, g=last.gsi1sk or last.sk)
            next_cursor = encode_cursor(data)
        return [_stored(i, v) for _, (i, v) in page], next_cursor


def _stored(item: Item, ver: int) -> Stored:
    return Stored(pk=item.pk, sk=item.sk, doc=copy.deepcopy(item.doc), ver=ver)
