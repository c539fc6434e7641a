"""Transaction sets: concurrent ``Transactions`` applies of one type and millisecond lose nothing.

The reading store keeps, per (series, time), the row with the highest version, and the writer
stores rows asynchronously. So a row must hold every transaction of its (type, millisecond), and
merging a new row with the STORED one (read, merge, enqueue) loses transactions whenever two
applies overlap: both read the same old row, and the store keeps only one of the two merged rows
(issue 8.6: 5 of 5 trials).

The truth of "which transactions exist at (org, type, ms)" is therefore one item per instant in
the definitions table (``sk = TXSET#{ms:015d}#{type}``, doc ``{"version": v, "tx": {id: tx}}``),
changed only with an optimistic condition (``Expect.VERSION``). An apply reads its instants' items
(BatchGetItem), merges its transactions in (new ids added, the same id replaced) and writes them
back in atomic chunks of :data:`CHUNK` items; a lost condition re-reads and re-merges that chunk.
The row it enqueues is the WHOLE merged set, with a version greater than the item's previous one
(and than every earlier microsecond version), so of two overlapping applies the later write
carries both transactions and also wins in the reading store, in whatever order the writer
stores the two rows.

An absent item (the first apply at that instant, or one whose item expired) is seeded from the
reading store, so rows stored before the item existed are kept; two seeders both expect "absent"
and the loser re-reads. Items expire after :data:`TTL_SECONDS` (DynamoDB TTL), long after the
writer stored the row they describe.

Cost per apply and type: ceil(n/100) BatchGetItem + ceil(n/25) TransactWriteItems (2 write units
per item) for n instants, plus the reading-store reads of the seeding (one point read per new
instant up to 32 instants, else one range read), as before; a conflict repeats one chunk.
"""

from __future__ import annotations

import random
import time
from collections.abc import Iterable
from typing import Any

from telemetry.errors import Conflict
from telemetry.models.readings import SeriesKind, SeriesRows
from telemetry.models.types import DataType
from telemetry.ports.definitions import Expect, Item, ItemStore, Stored
from telemetry.ports.readings import ReadingStore
from telemetry.services.ingest import accept_version
from telemetry.services.templates import Transaction

#: instants written in one atomic write (one TransactWriteItems)
CHUNK = 25
#: attempts of one chunk before a 409
ATTEMPTS = 8
#: below this many new instants per type, stored rows are read one by one
POINT_READS = 32
TTL_SECONDS = 7 * 24 * 3600

Rows = dict[int, dict[str, Any]]


def set_sk(tx_type: str, time_ms: int) -> str:
    return f"TXSET#{time_ms:015d}#{tx_type}"


class TransactionSets:
    def __init__(self, items: ItemStore, org_pk: str, readings: ReadingStore, org_id: str) -> None:
        self.items = items
        self.pk = org_pk
        self.readings = readings
        self.org_id = org_id

    def groups(self, transactions: Iterable[Transaction]) -> list[SeriesRows]:
        """Record the transactions in their sets; the rows to enqueue (one group per type and chunk)."""
        by_type: dict[str, Rows] = {}
        for tx in transactions:
            by_type.setdefault(tx.type, {}).setdefault(tx.time, {})[tx.id] = tx.as_dict()
        out: list[SeriesRows] = []
        for tx_type, rows in by_type.items():
            times = sorted(rows)
            for start in range(0, len(times), CHUNK):
                chunk = {t: rows[t] for t in times[start : start + CHUNK]}
                out.append(self._record(tx_type, chunk))
        return out

    def _record(self, tx_type: str, new: Rows) -> SeriesRows:
        for attempt in range(ATTEMPTS):
            stored = {s.sk: s for s in self.items.batch_get([(self.pk, set_sk(tx_type, t)) for t in new])}
            absent = [t for t in new if set_sk(tx_type, t) not in stored]
            seeded = self._stored_rows(tx_type, absent) if absent else {}
            merged: Rows = {}
            version = accept_version()
            for t, txs in new.items():
                found: Stored | None = stored.get(set_sk(tx_type, t))
                before = dict(found.doc["tx"]) if found else seeded.get(t, {})
                merged[t] = {**before, **txs}
                if found:
                    version = max(version, int(found.doc["version"]) + 1)
            expires = int(time.time()) + TTL_SECONDS
            writes = [
                Item(
                    self.pk,
                    set_sk(tx_type, t),
                    {"version": version, "tx": txs},
                    expires_at=expires,
                    expect=Expect.VERSION,
                    expected_ver=found.ver if (found := stored.get(set_sk(tx_type, t))) else 0,
                    label=f"transactions of type '{tx_type}' at {t}",
                )
                for t, txs in merged.items()
            ]
            try:
                self.items.write(writes)
            except Conflict:
                if attempt == ATTEMPTS - 1:
                    raise
                time.sleep(random.uniform(0, 0.005 * 2**attempt))  # jitter
                continue
            types = {tx_id: DataType.Json for row in merged.values() for tx_id in row}
            return SeriesRows(SeriesKind.TRANSACTION, tx_type, version, types, sorted(merged.items()))
        raise AssertionError("unreachable")  # pragma: no cover

    def _stored_rows(self, tx_type: str, times: list[int]) -> Rows:
        """What the reading store holds at these instants (rows stored before their set existed)."""
        times = sorted(times)
        spans = [(t, t + 1) for t in times] if len(times) <= POINT_READS else [(times[0], times[-1] + 1)]
        wanted = set(times)
        out: Rows = {}
        for start, end in spans:
            cursor: str | None = None
            while True:
                records, cursor = self.readings.history(
                    self.org_id, SeriesKind.TRANSACTION, tx_type, start, end, limit=1000, cursor=cursor
                )
                for record in records:
                    if record.time in wanted:
                        out[record.time] = {tx_id: m.value for tx_id, m in record.measures.items()}
                if not cursor:
                    break
        return out
