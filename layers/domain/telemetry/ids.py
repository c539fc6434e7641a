"""Identifier generation. Prefixes follow the spec (``mdef_``, ``tdefi_``, ``tdef_``, ``tmpl_`` ...)."""

from __future__ import annotations

import secrets
import threading
import time

_ALPHABET = "0123456789abcdefghijklmnopqrstuvwxyz"


def new_id(prefix: str, length: int = 20) -> str:
    """A random, URL-safe id such as ``mdef_k3j9...``: lowercase, unambiguous, not guessable."""
    return prefix + "_" + "".join(secrets.choice(_ALPHABET) for _ in range(length))


def new_object_id() -> str:
    """A 24-hex MongoDB-style ObjectId (4-byte seconds, 5 random bytes, 3-byte counter)."""
    return f"{int(time.time()):08x}{secrets.token_hex(5)}{secrets.randbelow(1 << 24):06x}"


#: the last time given to new_sortable_id and how many ids it made at that time
_sortable_last = [0, 0]
_sortable_lock = threading.Lock()
_SEQUENCE_DIGITS = 3


def _base36(value: int, width: int) -> str:
    digits = ""
    while value:
        value, rest = divmod(value, 36)
        digits = _ALPHABET[rest] + digits
    return digits.rjust(width, "0")


def new_sortable_id(prefix: str, now_ms: int, random_length: int = 10) -> str:
    """An id whose text order is its time order (``run_`` + 9 base-36 digits of epoch ms + a
    3-digit sequence + random), so a descending sort-key query lists the newest first. Ids made
    in one process at the same millisecond are ordered by the sequence; across processes, two
    ids of the same millisecond are ordered at random."""
    ms = max(0, now_ms)
    with _sortable_lock:
        sequence = _sortable_last[1] + 1 if ms == _sortable_last[0] else 0
        if sequence >= 36**_SEQUENCE_DIGITS:  # 46,656 ids in one millisecond: borrow the next one
            ms, sequence = ms + 1, 0
        _sortable_last[:] = [ms, sequence]
    return (
        prefix
        + "_"
        + _base36(ms, 9)
        + _base36(sequence, _SEQUENCE_DIGITS)
        + "".join(secrets.choice(_ALPHABET) for _ in range(random_length))
    )
