"""Integrations on the definitions ItemStore.

Layout (all under ``ORG#<org>``, so nothing crosses tenants):

==============================  ==========================================================
sort key                        document
==============================  ==========================================================
``INTG#<intg>``                 the configuration (:class:`Integration` without ``status``)
                                plus ``secretArn`` (never returned)
``INTGSTATE#<intg>``            the pull state (:class:`IntegrationState`); the item's write
                                counter ``ver`` IS ``cursor_rev``, so a save is one
                                conditional put (``Expect.VERSION``)
``INTGSTATE#<intg>#lease``      the step lease (``Expect.LEASE``: absent or expired)
``INTGRUN#<intg>#<run>``        one run (:class:`IntegrationRun`); run ids sort by time, so a
                                descending query lists the newest first
==============================  ==========================================================

The lease is a separate item from the state so that taking it does not bump the state's
revision (a step that took the lease must still be able to save the state it read).
"""

from __future__ import annotations

import builtins
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from telemetry.errors import Conflict, NotFound
from telemetry.models.integrations import Integration, IntegrationRun, IntegrationState
from telemetry.ports.definitions import Expect, Item, ItemStore
from telemetry.repositories.definitions import org_pk
from telemetry.repositories.integration_hooks import WebhookDirectory, hook_item

SK_PREFIX = "INTG#"
STATE_PREFIX = "INTGSTATE#"
RUN_PREFIX = "INTGRUN#"
#: runs kept readable: a run item expires this long after it was last written (DynamoDB TTL)
RUN_RETENTION_S = 30 * 24 * 3600


@dataclass(frozen=True, slots=True)
class StoredIntegration:
    integration: Integration
    ver: int  #: the item's write counter, for :meth:`IntegrationRepository.replace`
    secret_arn: str | None  #: where the credentials are (None = no credentials set)


def _sk(integration_id: str) -> str:
    return f"{SK_PREFIX}{integration_id}"


def _state_sk(integration_id: str) -> str:
    return f"{STATE_PREFIX}{integration_id}"


def _lease_sk(integration_id: str) -> str:
    return f"{STATE_PREFIX}{integration_id}#lease"


def _runs_prefix(integration_id: str) -> str:
    return f"{RUN_PREFIX}{integration_id}#"


def _doc(integration: Integration, secret_arn: str | None) -> dict[str, Any]:
    doc = integration.model_dump(mode="json", exclude={"status"})
    doc["secretArn"] = secret_arn
    return doc


def _stored(doc: dict[str, Any], ver: int) -> StoredIntegration:
    secret_arn = doc.pop("secretArn", None)
    return StoredIntegration(Integration.model_validate(doc), ver, secret_arn)


class IntegrationRepository:
    def __init__(self, store: ItemStore) -> None:
        self.store = store

    # ------------------------------------------------------------ configuration
    def create(self, org_id: str, integration: Integration, secret_arn: str | None = None) -> None:
        self.store.write(
            [
                Item(
                    org_pk(org_id),
                    _sk(integration.id),
                    _doc(integration, secret_arn),
                    expect=Expect.NEW,
                    label=f"integration {integration.id}",
                ),
                # the webhook directory entry, in the same transaction (intg-pull)
                hook_item(org_id, integration.id),
            ]
        )

    def find(self, org_id: str, integration_id: str) -> StoredIntegration | None:
        found = self.store.get(org_pk(org_id), _sk(integration_id))
        return _stored(found.doc, found.ver) if found else None

    def get(self, org_id: str, integration_id: str) -> StoredIntegration:
        """The integration; NotFound if this organization has none with that id."""
        stored = self.find(org_id, integration_id)
        if stored is None:
            raise NotFound(f"integration {integration_id} does not exist")
        return stored

    def list(self, org_id: str, limit: int, cursor: str | None) -> tuple[builtins.list[StoredIntegration], str | None]:
        """One page in id order, and an opaque cursor for the next (None on the last page)."""
        rows, next_cursor = self.store.query(org_pk(org_id), SK_PREFIX, limit=limit, cursor=cursor)
        return [_stored(r.doc, r.ver) for r in rows], next_cursor

    def replace(self, org_id: str, integration: Integration, expected_ver: int, secret_arn: str | None) -> None:
        """Write only if the stored item is still at ``expected_ver`` (else Conflict)."""
        self.store.write(
            [
                Item(
                    org_pk(org_id),
                    _sk(integration.id),
                    _doc(integration, secret_arn),
                    expect=Expect.VERSION,
                    expected_ver=expected_ver,
                    label=f"integration {integration.id}",
                )
            ]
        )

    def delete(self, org_id: str, integration_id: str) -> None:
        """Remove the configuration, its state, its lease and all its runs."""
        pk = org_pk(org_id)
        cursor: str | None = None
        while True:
            rows, cursor = self.store.query(pk, _runs_prefix(integration_id), limit=100, cursor=cursor)
            for row in rows:
                self.store.delete(pk, row.sk)
            if not cursor:
                break
        self.store.delete(pk, _lease_sk(integration_id))
        self.store.delete(pk, _state_sk(integration_id))
        self.store.delete(pk, _sk(integration_id))
        WebhookDirectory(self.store).forget(integration_id)

    # ------------------------------------------------------------ state and lease
    def state(self, org_id: str, integration_id: str) -> IntegrationState:
        """The stored state, or a fresh one (``cursor_rev`` 0) if no step has saved any."""
        found = self.store.get(org_pk(org_id), _state_sk(integration_id))
        return IntegrationState.from_doc(found.doc, found.ver) if found else IntegrationState()

    def states(self, org_id: str, integration_ids: Sequence[str]) -> dict[str, IntegrationState]:
        """States of several integrations in one batch read (fresh ones for those never saved)."""
        pk = org_pk(org_id)
        found = {r.sk: r for r in self.store.batch_get([(pk, _state_sk(i)) for i in integration_ids])}
        out: dict[str, IntegrationState] = {}
        for integration_id in integration_ids:
            row = found.get(_state_sk(integration_id))
            out[integration_id] = IntegrationState.from_doc(row.doc, row.ver) if row else IntegrationState()
        return out

    def save_state(self, org_id: str, integration_id: str, state: IntegrationState, expected_rev: int) -> bool:
        """Compare-and-set: write only if the stored revision is still ``expected_rev`` (0 = none
        stored); the stored revision becomes ``expected_rev + 1`` (and ``state.cursor_rev`` with it).
        False when another step saved first (nothing written)."""
        try:
            self.store.write(
                [
                    Item(
                        org_pk(org_id),
                        _state_sk(integration_id),
                        state.to_doc(),
                        expect=Expect.VERSION,
                        expected_ver=expected_rev,
                        label=f"the state of integration {integration_id}",
                    )
                ]
            )
        except Conflict:
            return False
        state.cursor_rev = expected_rev + 1
        return True

    def take_lease(self, org_id: str, integration_id: str, owner: str, now_ms: int, ttl_ms: int) -> bool:
        """Atomically take the step lease until ``now_ms + ttl_ms`` if it is free or expired.
        Of two concurrent takers exactly one gets True."""
        until = now_ms + ttl_ms
        try:
            self.store.write(
                [
                    Item(
                        org_pk(org_id),
                        _lease_sk(integration_id),
                        {"owner": owner, "leaseUntil": until},
                        expires_at=until // 1000 + 3600,
                        expect=Expect.LEASE,
                        lease_until=until,
                        lease_now=now_ms,
                        label=f"the lease of integration {integration_id}",
                    )
                ]
            )
        except Conflict:
            return False
        return True

    def release_lease(self, org_id: str, integration_id: str, owner: str) -> None:
        """Give the lease back if ``owner`` still holds it. Conditional on the stored lease end
        being the owner's own (a lease written as "free until the owner's end"): if the lease
        expired and another step took it, its end is later and the release changes nothing."""
        pk, sk = org_pk(org_id), _lease_sk(integration_id)
        found = self.store.get(pk, sk)
        if found is None or found.doc.get("owner") != owner:
            return
        held_until = int(found.doc.get("leaseUntil") or 0)
        try:
            self.store.write(
                [
                    Item(
                        pk,
                        sk,
                        {"owner": None, "leaseUntil": 0},
                        expires_at=held_until // 1000 + 3600,
                        expect=Expect.LEASE,
                        lease_until=0,
                        lease_now=held_until,
                        label=f"the lease of integration {integration_id}",
                    )
                ]
            )
        except Conflict:
            return

    # ------------------------------------------------------------ runs
    def put_run(self, org_id: str, run: IntegrationRun) -> None:
        """Create or overwrite a run (the pull step updates its state, report and pages)."""
        finished_or_queued = run.finished_ms or run.started_ms or run.queued_ms
        self.store.write(
            [
                Item(
                    org_pk(org_id),
                    f"{_runs_prefix(run.integration_id)}{run.run_id}",
                    run.to_doc(),
                    expires_at=finished_or_queued // 1000 + RUN_RETENTION_S if finished_or_queued else None,
                )
            ]
        )

    def get_run(self, org_id: str, integration_id: str, run_id: str) -> IntegrationRun | None:
        found = self.store.get(org_pk(org_id), f"{_runs_prefix(integration_id)}{run_id}")
        return IntegrationRun.from_doc(found.doc) if found else None

    def runs(self, org_id: str, integration_id: str, limit: int = 20) -> builtins.list[IntegrationRun]:
        """The most recent runs, newest first."""
        rows, _ = self.store.query(org_pk(org_id), _runs_prefix(integration_id), limit=limit, descending=True)
        return [IntegrationRun.from_doc(r.doc) for r in rows]
