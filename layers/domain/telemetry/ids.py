"""Identifier generation. Prefixes follow the spec (``mdef_``, ``tdefi_``, ``tdef_``, ``tmpl_`` ...)."""

from __future__ import annotations

import secrets
import time

_ALPHABET = "0123456789abcdefghijklmnopqrstuvwxyz"


def new_id(prefix: str, length: int = 20) -> str:
    """A random, URL-safe id such as ``mdef_k3j9...``: lowercase, unambiguous, not guessable."""
    return prefix + "_" + "".join(secrets.choice(_ALPHABET) for _ in range(length))


def new_object_id() -> str:
    """A 24-hex MongoDB-style ObjectId (4-byte seconds, 5 random bytes, 3-byte counter)."""
    return f"{int(time.time()):08x}{secrets.token_hex(5)}{secrets.randbelow(1 << 24):06x}"


def new_sortable_id(prefix: str, now_ms: int, random_length: int = 12) -> str:
    """An id whose text order is its time order (``run_`` + 9 base-36 digits of epoch ms + random),
    so a descending sort-key query lists the newest first."""
    digits = ""
    value = max(0, now_ms)
    while value:
        value, rest = divmod(value, 36)
        digits = _ALPHABET[rest] + digits
    return prefix + "_" + digits.rjust(9, "0") + "".join(secrets.choice(_ALPHABET) for _ in range(random_length))
