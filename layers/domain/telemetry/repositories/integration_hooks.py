"""The webhook directory: from an integration id (all a provider's POST carries) to its organization.

Every other integrations item lives under ``ORG#<org>`` (:mod:`telemetry.repositories.integrations`),
but a webhook arrives with no API key, so the organization cannot come from the caller. Like the
credential lookups (``APIKEY#<sha256>``) this partition is keyed by what the request holds:

=================================  ===========================================================
pk ``INTGHOOK#<intg>``, sk ``ORG``   ``{"org": <org>}``, written in the same transaction as the
                                     integration (:func:`hook_item`) and removed with it
pk ``INTGHOOK#<intg>``,              one delivery's signature fingerprint, held for the replay
sk ``SEEN#<sha256>``                 window (``Expect.LEASE`` on seconds, TTL ``expiresAt``)
=================================  ===========================================================

Why it cannot cross tenants by accident: the item names exactly one organization, and every read
that follows (the integration, its secret, its state) is made under THAT organization's
partition with the id from the path; an id of another organization resolves to that other
organization, whose secret then decides the signature. Nothing here lists or scans.
"""

from __future__ import annotations

from telemetry.errors import Conflict
from telemetry.ports.definitions import Expect, Item, ItemStore

HOOK_PREFIX = "INTGHOOK#"
_ORG_SK = "ORG"
_SEEN_PREFIX = "SEEN#"


def _pk(integration_id: str) -> str:
    return HOOK_PREFIX + integration_id


def hook_item(org_id: str, integration_id: str) -> Item:
    """The directory entry of a new integration (write it with the integration's own items)."""
    return Item(_pk(integration_id), _ORG_SK, {"org": org_id}, expect=Expect.NEW, label=f"integration {integration_id}")


class WebhookDirectory:
    def __init__(self, store: ItemStore) -> None:
        self.store = store

    def org_of(self, integration_id: str) -> str | None:
        found = self.store.get(_pk(integration_id), _ORG_SK)
        org = found.doc.get("org") if found else None
        return org if isinstance(org, str) and org else None

    def forget(self, integration_id: str) -> None:
        self.store.delete(_pk(integration_id), _ORG_SK)

    def first_delivery(self, integration_id: str, fingerprint: str, now_s: int, window_s: int) -> bool:
        """True the first time a signed delivery is seen within ``window_s`` seconds; False for a
        replay. Atomic: of two identical deliveries racing, exactly one is the first."""
        item = Item(
            _pk(integration_id),
            _SEEN_PREFIX + fingerprint,
            {"seenAt": now_s},
            expect=Expect.LEASE,
            lease_until=now_s + window_s,
            lease_now=now_s,
            expires_at=now_s + window_s,
            label="webhook delivery",
        )
        try:
            self.store.write([item])
        except Conflict:
            return False
        return True
