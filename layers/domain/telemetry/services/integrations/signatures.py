"""Webhook signature checks, one rule per provider that pushes (docs/integrations.md "Webhooks").

Owned by the connectors branch; this module holds the shared signature
``verify_webhook(provider, secret, headers, body, now_s) -> bool`` so the webhook route can be
built against it, and the connectors branch's version replaces it when the branches merge.

* Zubie: ``Zubie-Signature`` = base64(HMAC-SHA256(secret, body)) [Z-wh].
* UtilityAPI: ``X-UtilityAPI-Webhook-Signature`` = hex(SHA-256(secret + salt + body)) with the
  salt from ``X-UtilityAPI-Webhook-Salt`` (the rule third-party verifiers use; no official one seen).
* http: ``X-Webhook-Timestamp`` (epoch seconds, within :data:`HTTP_TOLERANCE_S` of now) and
  ``X-Webhook-Signature: sha256=<hex HMAC-SHA256(secret, "<timestamp>." + body)>``.
* Geotab pushes nothing: always False.

Comparisons are constant-time; a missing header is simply False.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Mapping

HTTP_TOLERANCE_S = 300


def _header(headers: Mapping[str, str], name: str) -> str | None:
    wanted = name.lower()
    return next((v for k, v in headers.items() if k.lower() == wanted), None)


def verify_webhook(provider: str, secret: str, headers: Mapping[str, str], body: bytes, now_s: int) -> bool:
    if not secret:
        return False
    key = secret.encode()
    if provider == "zubie":
        sent = _header(headers, "Zubie-Signature")
        expected = base64.b64encode(hmac.new(key, body, hashlib.sha256).digest()).decode()
        return sent is not None and hmac.compare_digest(sent.strip(), expected)
    if provider == "utilityapi":
        sent = _header(headers, "X-UtilityAPI-Webhook-Signature")
        salt = _header(headers, "X-UtilityAPI-Webhook-Salt")
        if sent is None or salt is None:
            return False
        expected = hashlib.sha256(key + salt.encode() + body).hexdigest()
        return hmac.compare_digest(sent.strip().lower(), expected)
    if provider == "http":
        sent = _header(headers, "X-Webhook-Signature")
        stamp = _header(headers, "X-Webhook-Timestamp")
        if sent is None or stamp is None or not stamp.strip().isdigit():
            return False
        if abs(now_s - int(stamp)) > HTTP_TOLERANCE_S:
            return False
        digest = hmac.new(key, stamp.strip().encode() + b"." + body, hashlib.sha256).hexdigest()
        return hmac.compare_digest(sent.strip(), "sha256=" + digest)
    return False
