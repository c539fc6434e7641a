"""Webhook signatures: pure checks, no I/O (docs/integrations.md, "Connectors" > "Webhook signatures").

What each provider sends and what is checked:

- **Zubie**: ``Zubie-Signature`` = base64(HMAC-SHA256(secret, raw body)) (developer.zubie.com/webhooks).
  No timestamp header is documented, so the signature cannot expire by itself; if the JSON body
  carries a top-level ``timestamp`` (ISO 8601) it must be within :data:`MAX_AGE_S` of now.
- **UtilityAPI**: ``X-UtilityAPI-Webhook-Salt`` and ``X-UtilityAPI-Webhook-Signature`` = hex
  SHA-256(secret + salt + raw body), plain concatenation of the UTF-8 bytes. The official rule is
  not published; this is what third-party verifiers do (INTEGRATIONS.md §4). The body's events
  carry ``ts``: the newest must be within :data:`MAX_AGE_S` of now.
- **http** (our generic connector, so we define it, like Stripe's): ``X-Webhook-Timestamp`` (epoch
  seconds) and ``X-Webhook-Signature`` = hex HMAC-SHA256(secret, timestamp + "." + raw body); the
  timestamp must be within :data:`MAX_AGE_S` of now.
- **Geotab** sends no webhooks (its data feed is poll-only): always False.

A replay inside the window is caught by the caller, not here: :func:`replay_token` names what
identifies one delivery (the salt, or the signature) for a short-lived "seen" record.
Comparisons are constant-time (:func:`hmac.compare_digest`).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from telemetry.body import load_json
from telemetry.errors import DomainError

#: webhook bodies larger than this are not dated (API Gateway caps them at 10 MB anyway)
MAX_BODY_BYTES = 1024 * 1024
#: the oldest (and the furthest in the future, for clock skew) a signed delivery may be
MAX_AGE_S = 300


def _header(headers: Mapping[str, str], name: str) -> str | None:
    wanted = name.lower()
    found = [v for k, v in headers.items() if k.lower() == wanted]
    return found[0].strip() if len(found) == 1 else None  # missing or repeated: no


def _parsed(body: bytes) -> Any:
    """The body as JSON (parsed by telemetry.body like every request body), None if it is not."""
    try:
        return load_json(body, MAX_BODY_BYTES)
    except DomainError:
        return None


def _fresh(epoch_s: float, now_s: float) -> bool:
    return abs(now_s - epoch_s) <= MAX_AGE_S


def _iso_s(text: object) -> float | None:
    if not isinstance(text, str):
        return None
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment.timestamp() if moment.tzinfo is not None else None


def _zubie(secret: bytes, headers: Mapping[str, str], body: bytes, now_s: float) -> bool:
    given = _header(headers, "Zubie-Signature")
    if not given:
        return False
    try:
        signature = base64.b64decode(given, validate=True)
    except (binascii.Error, ValueError):
        return False
    if not hmac.compare_digest(signature, hmac.new(secret, body, hashlib.sha256).digest()):
        return False
    payload = _parsed(body)  # None: signed, and nothing to date it by
    stamp = payload.get("timestamp") if isinstance(payload, dict) else None
    if stamp is None:
        return True
    moment = _iso_s(stamp)
    return moment is not None and _fresh(moment, now_s)


def _utilityapi(secret: bytes, headers: Mapping[str, str], body: bytes, now_s: float) -> bool:
    salt, given = _header(headers, "X-UtilityAPI-Webhook-Salt"), _header(headers, "X-UtilityAPI-Webhook-Signature")
    if not salt or not given:
        return False
    expected = hashlib.sha256(secret + salt.encode() + body).hexdigest()
    if not hmac.compare_digest(given.lower().encode(), expected.encode()):
        return False
    payload = _parsed(body)
    events = payload.get("events") if isinstance(payload, dict) else None
    stamps = [_iso_s(e.get("ts")) for e in events if isinstance(e, dict)] if isinstance(events, list) else []
    known = [s for s in stamps if s is not None]
    return bool(known) and _fresh(max(known), now_s)


def _http(secret: bytes, headers: Mapping[str, str], body: bytes, now_s: float) -> bool:
    stamp, given = _header(headers, "X-Webhook-Timestamp"), _header(headers, "X-Webhook-Signature")
    if not stamp or not given or not stamp.isdigit():
        return False
    expected = hmac.new(secret, stamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(given.lower().encode(), expected.encode()) and _fresh(int(stamp), now_s)


_VERIFIERS = {"zubie": _zubie, "utilityapi": _utilityapi, "http": _http}


def verify_webhook(provider: str, secret: str, headers: Mapping[str, str], body: bytes, now_s: float) -> bool:
    """True only for a delivery signed with ``secret`` by ``provider``'s rule and not too old."""
    verifier = _VERIFIERS.get(provider)
    if verifier is None or not secret:
        return False
    return verifier(secret.encode(), headers, body, now_s)


def replay_token(provider: str, headers: Mapping[str, str]) -> str | None:
    """What identifies one delivery, for the caller's "seen within MAX_AGE_S" record: UtilityAPI's
    salt, else the signature header (Zubie, http)."""
    name = {
        "utilityapi": "X-UtilityAPI-Webhook-Salt",
        "zubie": "Zubie-Signature",
        "http": "X-Webhook-Signature",
    }.get(provider)
    value = _header(headers, name) if name else None
    return f"{provider}:{value}" if value else None
