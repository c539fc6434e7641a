"""Splitting a request that exceeds a limit into requests that do not (pure, no I/O)."""

from __future__ import annotations

import copy
from collections.abc import Iterator, Sequence
from typing import Any

import orjson

from .errors import ClientError, TooLargeToSplit


def dumps(value: Any) -> bytes:
    """The exact bytes sent: compact JSON (sizes are computed on these)."""
    return orjson.dumps(value)


def split_items(
    items: Sequence[Any], *, max_items: int, max_bytes: int, envelope_bytes: int, what: str = "item"
) -> Iterator[tuple[int, list[Any]]]:
    """Consecutive slices ``(offset, items)`` of at most ``max_items`` whose JSON array, inside an
    envelope of ``envelope_bytes``, stays within ``max_bytes``. An item too large on its own raises
    :class:`TooLargeToSplit` naming its index."""
    chunk: list[Any] = []
    start, size = 0, envelope_bytes + 2  # the brackets
    for index, item in enumerate(items):
        item_bytes = len(dumps(item)) + 1  # the comma
        if envelope_bytes + 2 + item_bytes > max_bytes:
            raise TooLargeToSplit(
                f"{what} {index} alone is {item_bytes} bytes, over the {max_bytes}-byte request limit"
            )
        if chunk and (len(chunk) >= max_items or size + item_bytes > max_bytes):
            yield start, chunk
            start, chunk, size = index, [], envelope_bytes + 2
        chunk.append(item)
        size += item_bytes
    if chunk:
        yield start, chunk


def resolve_pointer(doc: Any, pointer: str) -> Any:
    """RFC 6901: the value at ``pointer`` in ``doc`` (KeyError/IndexError when absent)."""
    if pointer == "":
        return doc
    if not pointer.startswith("/"):
        raise ClientError(f"{pointer!r} is not a JSON Pointer")
    node = doc
    for raw in pointer[1:].split("/"):
        token = raw.replace("~1", "/").replace("~0", "~")
        node = node[int(token)] if isinstance(node, list) else node[token]
    return node


def _replace(doc: Any, pointer: str, value: Any) -> Any:
    out = copy.copy(doc)
    tokens = [t.replace("~1", "/").replace("~0", "~") for t in pointer[1:].split("/")]
    node = out
    for token in tokens[:-1]:
        child = node[int(token)] if isinstance(node, list) else node[token]
        child = copy.copy(child)
        if isinstance(node, list):
            node[int(token)] = child
        else:
            node[token] = child
        node = child
    if isinstance(node, list):
        node[int(tokens[-1])] = value
    else:
        node[tokens[-1]] = value
    return out


def split_records(
    doc: Any, records_pointer: str | None, *, max_records: int, max_bytes: int
) -> list[tuple[int, Any]] | None:
    """A template payload cut into documents ``(offset, doc)`` of at most ``max_records`` records
    (the array at ``records_pointer``) and ``max_bytes``, the rest of the document (headers read
    with ``scope: document``) kept in each. None when the payload is within the limits as it is."""
    whole = len(dumps(doc))
    if not records_pointer:
        return None  # one record: nothing to split
    try:
        records = resolve_pointer(doc, records_pointer)
    except (KeyError, IndexError, ValueError, TypeError):
        return None  # the server will say why
    if not isinstance(records, list) or (len(records) <= max_records and whole <= max_bytes):
        return None
    envelope = whole - len(dumps(records))
    return [
        (offset, _replace(doc, records_pointer, chunk))
        for offset, chunk in split_items(
            records, max_items=max_records, max_bytes=max_bytes, envelope_bytes=envelope, what="record"
        )
    ]


def merge_reports(reports: Sequence[tuple[int, dict[str, Any]]]) -> dict[str, Any]:
    """One template report for a payload sent in parts: counts summed, record indexes shifted back
    to the whole payload's, per-metric counts summed, lists concatenated."""
    if len(reports) == 1:
        return reports[0][1]
    merged: dict[str, Any] = dict(reports[0][1])
    for key in ("recordsParsed", "readingsWritten", "metricValuesWritten", "transactionsWritten"):
        if any(key in r for _, r in reports):
            merged[key] = sum(int(r.get(key, 0)) for _, r in reports)
    merged["recordsSkipped"] = [
        {**skip, "index": skip["index"] + offset} if isinstance(skip.get("index"), int) else skip
        for offset, r in reports
        for skip in r.get("recordsSkipped", [])
    ]
    seen: dict[str, None] = {}
    for _, r in reports:
        seen.update(dict.fromkeys(r.get("metricsSkippedNotOnTtd", [])))
    if seen or "metricsSkippedNotOnTtd" in merged:
        merged["metricsSkippedNotOnTtd"] = list(seen)
    for key, group in (("fieldsSkippedMissing", ("metricId",)), ("fieldsInvalid", ("metricId", "reason"))):
        counts: dict[tuple[Any, ...], dict[str, Any]] = {}
        for _, r in reports:
            for entry in r.get(key, []):
                ident = tuple(entry.get(g) for g in group)
                if ident in counts:
                    counts[ident]["count"] = counts[ident].get("count", 0) + entry.get("count", 0)
                else:
                    counts[ident] = dict(entry)
        if counts or key in merged:
            merged[key] = list(counts.values())
    for key in ("readings", "transactions"):
        if any(key in r for _, r in reports):
            merged[key] = [x for _, r in reports for x in r.get(key, [])]
    merged["requests"] = len(reports)
    return merged


def merge_ingest(summaries: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """One frames-ingest summary for a batch sent in parts."""
    if len(summaries) == 1:
        return summaries[0]
    metrics: dict[str, None] = {}
    for s in summaries:
        metrics.update(dict.fromkeys(s.get("metrics", [])))
    return {
        "thingId": summaries[0].get("thingId"),
        "framesIngested": sum(int(s.get("framesIngested", 0)) for s in summaries),
        "metrics": list(metrics),
        "requests": len(summaries),
    }


def merge_bulk(parts: Sequence[tuple[int, dict[str, Any]]]) -> dict[str, Any]:
    """One bulk-create answer (201 or 207 shape) for things sent in parts of 100."""
    if len(parts) == 1:
        return parts[0][1]
    return {
        "created": sum(int(p.get("created", 0)) for _, p in parts),
        "failed": sum(int(p.get("failed", 0)) for _, p in parts),
        "results": [{**r, "index": r.get("index", 0) + offset} for offset, p in parts for r in p.get("results", [])],
        "requests": len(parts),
    }


def merge_counted(parts: Sequence[dict[str, Any]], count: str, items: str | None) -> dict[str, Any]:
    """One dialect answer (``count``/``ingested`` summed, echoed items concatenated)."""
    if len(parts) == 1:
        return parts[0]
    merged = dict(parts[0])
    merged[count] = sum(int(p.get(count, 0)) for p in parts)
    if items:
        merged[items] = [x for p in parts for x in p.get(items, [])]
    merged["requests"] = len(parts)
    return merged
