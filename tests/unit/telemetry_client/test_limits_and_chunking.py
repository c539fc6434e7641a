"""The client's copy of the server's limits, and the pure splitting and reading code."""

from __future__ import annotations

from pathlib import Path

import pytest
from telemetry_client import TooLargeToSplit
from telemetry_client import limits as ours
from telemetry_client.backfill import chunks
from telemetry_client.chunking import dumps, merge_reports, split_items, split_records
from telemetry_client.readers import parse_timestamp, read_rows


def test_the_client_limits_are_the_servers() -> None:
    from telemetry import limits as server
    from telemetry.services.templates import limits as templates

    assert ours.MAX_FRAMES == server.INGEST_MAX_FRAMES
    assert ours.MAX_INGEST_BYTES == server.INGEST_MAX_BODY_BYTES
    assert ours.MAX_BULK_THINGS == server.MAX_BULK_THINGS
    assert ours.MAX_TEMPLATE_BYTES == server.TEMPLATE_MAX_PAYLOAD_BYTES == templates.MAX_PAYLOAD_BYTES
    assert ours.MAX_TEMPLATE_RECORDS == templates.MAX_RECORDS
    assert ours.MAX_AMQ_BYTES == server.AMQ_MAX_BODY_BYTES


def test_split_by_count_and_by_bytes_keeps_every_item_once_in_order() -> None:
    items = [{"timestamp": i, "metrics": {"v": "x" * (i % 50)}} for i in range(1_000)]
    parts = list(split_items(items, max_items=300, max_bytes=4_000, envelope_bytes=10))
    assert [x for _, part in parts for x in part] == items
    assert all(len(part) <= 300 and 10 + len(dumps(part)) <= 4_000 for _, part in parts)
    assert [offset for offset, _ in parts] == [sum(len(p) for _, p in parts[:k]) for k in range(len(parts))]
    with pytest.raises(TooLargeToSplit, match="item 1 alone"):
        list(split_items([1, "y" * 100], max_items=10, max_bytes=50, envelope_bytes=0))


def test_a_template_payload_is_cut_along_its_records_and_the_reports_merged() -> None:
    doc = {"header": {"fw": "1.2"}, "data": {"rows": [{"t": i} for i in range(2_500)]}}
    parts = split_records(doc, "/data/rows", max_records=1_000, max_bytes=1 << 20)
    assert parts is not None and [len(p["data"]["rows"]) for _, p in parts] == [1_000, 1_000, 500]
    assert all(p["header"] == {"fw": "1.2"} for _, p in parts) and len(doc["data"]["rows"]) == 2_500
    assert split_records({"rows": [1, 2]}, "/rows", max_records=1_000, max_bytes=1 << 20) is None
    merged = merge_reports(
        [
            (0, {"recordsParsed": 2, "readingsWritten": 1, "recordsSkipped": [{"index": 1, "reason": "x"}],
                 "fieldsInvalid": [{"metricId": "m", "reason": "parse_failed", "count": 1}]}),
            (2, {"recordsParsed": 2, "readingsWritten": 2, "recordsSkipped": [{"index": 0, "reason": "y"}],
                 "fieldsInvalid": [{"metricId": "m", "reason": "parse_failed", "count": 2}]}),
        ]
    )  # fmt: skip
    assert merged["recordsParsed"] == 4 and merged["readingsWritten"] == 3
    assert [s["index"] for s in merged["recordsSkipped"]] == [1, 2]
    assert merged["fieldsInvalid"] == [{"metricId": "m", "reason": "parse_failed", "count": 3}]


@pytest.mark.parametrize(
    ("value", "ms"),
    [
        (1718884800000, 1718884800000),
        ("1718884800000", 1718884800000),
        (1718884800, 1718884800000),
        ("1718884800.5", 1718884800500),
        ("2024-06-20T12:00:00Z", 1718884800000),
        ("2024-06-20T14:00:00+02:00", 1718884800000),
        ("2024-06-20 12:00:00", 1718884800000),
    ],
)
def test_timestamps(value: object, ms: int) -> None:
    assert parse_timestamp(value) == ms


def test_wide_and_long_csv_rows_and_a_deterministic_cut(tmp_path: Path) -> None:
    wide = tmp_path / "w.csv"
    wide.write_text("time,soc,mode\n2024-06-20T12:00:00Z,87.5,auto\n1718884801000,,\nbad,1,2\n1718884802,3,\n")
    rows = list(read_rows(wide))
    assert [(r.row, r.timestamp, r.metrics, r.error) for r in rows] == [
        (1, 1718884800000, {"soc": 87.5, "mode": "auto"}, None),
        (2, 1718884801000, {}, "has no metric values"),
        (3, None, {}, "time: timestamp 'bad' is neither epoch milliseconds/seconds nor ISO 8601"),
        (4, 1718884802000, {"soc": 3}, None),
    ]
    assert rows[-1].end == wide.stat().st_size
    long = tmp_path / "l.csv"
    long.write_text("timestamp,metric,value\n1718884800000,soc,1\n1718884800000,soh,2\n")
    assert [r.metrics for r in read_rows(long)] == [{"soc": 1}, {"soh": 2}]
    cut = [
        (c.id, [r for r, _ in c.rows], [x["row"] for x in c.local_rejects])
        for c in chunks(read_rows(wide), chunk_size=1)
    ]
    assert cut == [(0, [1], [2, 3]), (1, [4], [])]  # refused rows go with the chunk they were read in
    assert cut == [
        (c.id, [r for r, _ in c.rows], [x["row"] for x in c.local_rejects])
        for c in chunks(read_rows(wide), chunk_size=1)
    ]


def test_the_client_uses_only_the_public_api() -> None:
    """It must work the same against a deployed stack: nothing of the server's code or the local
    stack's is imported (the limits are mirrored, and held equal above)."""
    import ast

    from tests.support import REPO

    for path in (REPO / "shared" / "telemetry_client").glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else []
            if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names.append(node.module)
            for name in names:
                assert name.split(".")[0] not in ("telemetry", "devstack", "boto3", "moto"), (path.name, name)
