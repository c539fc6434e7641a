"""``POST /v2/integrations/{integrationId}/webhook``: a provider's push, authenticated by its
signature (no API key), answered fast: it only queues a pull step (docs/integrations.md "Webhooks").

1. The organization comes from the webhook directory (integration id -> org,
   :mod:`telemetry.repositories.integration_hooks`); every read after it is in that organization.
2. The signature is checked with the ``webhookSecret`` of the integration's own secret
   (:func:`telemetry.services.integrations.signatures.verify_webhook`).
3. A delivery whose signature was already seen within the replay window is refused.
4. The step: ``PullStep(reason="webhook")``, a hint to pull now (Zubie, UtilityAPI), or, for the
   ``http`` provider, the records pushed whole when the body holds them at the connection's
   ``recordsPointer`` (``pushed=[...]``, mapped instead of a pull).

Every refusal of who is calling (unknown integration, no webhook secret, a bad, missing or
replayed signature) is the SAME 401: the answer does not reveal which integration ids exist or
how they are configured; the log says which it was.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, NoReturn

import orjson

from telemetry.body import check_size, load_json
from telemetry.clock import now_ms
from telemetry.errors import MalformedRequest, Unauthenticated, Unavailable
from telemetry.limits import WEBHOOK_MAX_BODY_BYTES
from telemetry.models.integrations import IntegrationRun, RunState
from telemetry.ports.integrations import PullQueue, PullStep, SecretStore
from telemetry.repositories.integration_hooks import WebhookDirectory
from telemetry.repositories.integrations import IntegrationRepository
from telemetry.services.integrations.pull import new_run_id
from telemetry.services.integrations.signatures import verify_webhook

log = logging.getLogger(__name__)

#: providers that push; Geotab is poll-only
PUSHING = ("zubie", "utilityapi", "http")
_REFUSAL = "the webhook signature is missing or invalid"


@dataclass(frozen=True, slots=True)
class WebhookAccepted:
    run_id: str
    pushed: int  #: records pushed whole (0: the delivery is a hint to pull now)

    def as_dict(self) -> dict[str, Any]:
        return {"accepted": True, "runId": self.run_id, "recordsPushed": self.pushed}


def fingerprint(headers: Mapping[str, str], body: bytes) -> str:
    """What makes a delivery unique: its signature headers (signature, salt, timestamp) and body."""
    signed = sorted(
        (k.lower(), v) for k, v in headers.items() if any(w in k.lower() for w in ("signature", "salt", "timestamp"))
    )
    return hashlib.sha256(orjson.dumps(signed) + b"\n" + body).hexdigest()


def _at_pointer(doc: Any, pointer: str) -> Any:
    """RFC 6901: the value at ``pointer`` in ``doc`` (None when absent)."""
    if pointer in ("", "/"):
        return doc
    for raw in pointer.lstrip("/").split("/"):
        part = raw.replace("~1", "/").replace("~0", "~")
        if isinstance(doc, dict):
            doc = doc.get(part)
        elif isinstance(doc, list) and part.isdigit() and int(part) < len(doc):
            doc = doc[int(part)]
        else:
            return None
    return doc


class IntegrationWebhooks:
    def __init__(
        self,
        directory: WebhookDirectory,
        integrations: IntegrationRepository,
        secrets: SecretStore,
        pulls: Callable[[], PullQueue],
        replay_window_s: int = 24 * 3600,
    ) -> None:
        self.directory = directory
        self.integrations = integrations
        self.secrets = secrets
        self._pulls = pulls
        self.replay_window_s = replay_window_s

    def receive(
        self, integration_id: str, headers: Mapping[str, str], body: bytes, at_ms: int | None = None
    ) -> WebhookAccepted:
        check_size(body, WEBHOOK_MAX_BODY_BYTES)
        now = now_ms() if at_ms is None else at_ms
        org = self.directory.org_of(integration_id) if integration_id.startswith("intg_") else None
        stored = self.integrations.find(org, integration_id) if org else None
        if org is None or stored is None:
            self._refuse(integration_id, "unknown integration")
        provider = stored.integration.provider.value
        if provider not in PUSHING:
            self._refuse(integration_id, f"{provider} does not push")
        secret = self.secrets.get(stored.secret_arn) if stored.secret_arn else {}
        key = secret.get("webhookSecret")
        if not isinstance(key, str) or not key:
            self._refuse(integration_id, "no webhookSecret in the integration's credentials")
        try:
            good = verify_webhook(provider, key, headers, body, now // 1000)
        except Exception:
            log.exception("webhook signature check failed", extra={"integration": integration_id})
            good = False
        if good is False:
            self._refuse(integration_id, "bad or missing signature")
        if not self.directory.first_delivery(
            integration_id, fingerprint(headers, body), now // 1000, self.replay_window_s
        ):
            self._refuse(integration_id, "replayed delivery")
        pushed = self._pushed(stored.integration.connection, provider, body)
        run = IntegrationRun(new_run_id(now), integration_id, "webhook", RunState.queued.value, queued_ms=now)
        self.integrations.put_run(org, run)
        try:
            self._pulls().send(PullStep(org, integration_id, run_id=run.run_id, reason="webhook", pushed=pushed))
        except Unavailable as exc:  # 503: the provider delivers again; the run says what happened
            run.state, run.finished_ms = RunState.failed.value, now
            run.error = {"type": "unavailable", "message": exc.detail}
            self.integrations.put_run(org, run)
            raise
        return WebhookAccepted(run.run_id, len(pushed))

    @staticmethod
    def _refuse(integration_id: str, why: str) -> NoReturn:
        log.warning("webhook refused", extra={"integration": integration_id[:64], "why": why})
        raise Unauthenticated(_REFUSAL)

    @staticmethod
    def _pushed(connection: Mapping[str, Any], provider: str, body: bytes) -> list[dict[str, Any]]:
        """Records pushed whole: only ``http``, at its ``recordsPointer``; otherwise a hint."""
        pointer = connection.get("recordsPointer")
        if provider != "http" or not isinstance(pointer, str):
            return []
        try:
            doc = load_json(body, WEBHOOK_MAX_BODY_BYTES)
        except MalformedRequest:
            return []
        found = _at_pointer(doc, pointer)
        if isinstance(found, list) and all(isinstance(r, dict) for r in found):
            return found
        return []
