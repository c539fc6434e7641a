"""Integrations as API resources: create, list, get, replace, delete, start a run, list runs.

- ``credentials`` go to the SecretStore (secret ``integrations/{org}/{id}``) and nowhere else:
  not in the stored item, not in an answer (only ``credentialsSet``), not in an error message.
- The PullScheduler is kept in step: one schedule per integration, ``enabled`` mirrored in its
  state, changed on PUT and deleted with the integration.
- Tenancy: the organization is the key's; a filtered key sees an integration only if it maps at
  least one thing and every mapped thing is inside the key's filter (else 404, as if absent),
  and it cannot map a thing outside its filter (the same 404 as for a thing that does not exist).
"""

from __future__ import annotations

import builtins
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from telemetry.clock import iso_from_ms, now_ms
from telemetry.errors import Conflict, FieldError, NotFound, Unavailable, ValidationFailed
from telemetry.ids import new_id, new_sortable_id
from telemetry.models.base import Page
from telemetry.models.integrations import (
    CONNECTION_MODELS,
    INTEGRATION_ID_PREFIX,
    REQUIRED_CREDENTIALS,
    RUN_ID_PREFIX,
    Integration,
    IntegrationIn,
    IntegrationRun,
    IntegrationRunOut,
    RunList,
    RunState,
    secret_name,
)
from telemetry.models.principal import Principal
from telemetry.models.templates import TemplateStatus, TemplateTarget
from telemetry.ports.integrations import PullQueue, PullScheduler, PullStep, SecretStore
from telemetry.repositories.definitions import DefinitionsRepository
from telemetry.repositories.integrations import IntegrationRepository, StoredIntegration
from telemetry.repositories.templates import TemplatesRepository
from telemetry.services.auth import require
from telemetry.validation import parse

#: runs listed by GET .../runs when no pageLimit is given
DEFAULT_RUNS = 20


class IntegrationCatalog:
    def __init__(
        self,
        repo: DefinitionsRepository,
        integrations: IntegrationRepository,
        templates: TemplatesRepository,
        secrets: Callable[[], SecretStore],
        scheduler: Callable[[], PullScheduler],
        pull_queue: Callable[[], PullQueue],
    ) -> None:
        self.repo = repo
        self.integrations = integrations
        self.templates = templates
        # factories: a function that only reads never builds the Secrets Manager or Scheduler client
        self._secrets = secrets
        self._scheduler = scheduler
        self._pull_queue = pull_queue

    # ------------------------------------------------------------ CRUD
    def create(self, principal: Principal, body: IntegrationIn) -> Integration:
        require(principal, "integrations:write")
        connection = self._validate(principal, body, credentials_required=True)
        integration_id = new_id(INTEGRATION_ID_PREFIX)
        org = principal.org_id
        arn = self._secrets().put(secret_name(org, integration_id), body.credentials) if body.credentials else None
        stamp = iso_from_ms(now_ms())
        integration = Integration(
            id=integration_id,
            createdAt=stamp,
            updatedAt=stamp,
            connection=connection,
            credentialsSet=arn is not None,
            **body.model_dump(exclude={"credentials", "connection"}),
        )
        self.integrations.create(org, integration, secret_arn=arn)
        try:
            self._scheduler().upsert(org, integration_id, integration.scheduleMinutes, integration.enabled)
        except Exception:
            # no integration without its schedule: undo, so the client's retry starts clean
            self.integrations.delete(org, integration_id)
            if arn:
                self._secrets().delete(arn)
            raise
        return self._with_status(org, integration)

    def get(self, principal: Principal, integration_id: str) -> Integration:
        require(principal, "integrations:read")
        stored = self._visible(principal, integration_id)
        return self._with_status(principal.org_id, stored.integration)

    def list(self, principal: Principal, limit: int, cursor: str | None) -> Page[Integration]:
        """One page in id order; a filtered key's page holds only the integrations it may see
        (so a page may be shorter than ``limit`` while a token says there is more)."""
        require(principal, "integrations:read")
        rows, next_cursor = self.integrations.list(principal.org_id, limit, cursor)
        seen = self._visible_ids(principal, [r.integration for r in rows])
        kept = [r.integration for r in rows if r.integration.id in seen]
        states = self.integrations.states(principal.org_id, [i.id for i in kept])
        items = [i.model_copy(update={"status": states[i.id].as_status()}) for i in kept]
        return Page[Integration](items=items, continuationToken=next_cursor)

    def replace(self, principal: Principal, integration_id: str, body: IntegrationIn) -> Integration:
        """Replace every field; ``credentials`` left out keep the stored ones (unless the
        provider changes, which needs new credentials)."""
        require(principal, "integrations:write")
        org = principal.org_id
        current = self._visible(principal, integration_id)
        provider_changed = current.integration.provider is not body.provider
        needs_credentials = provider_changed or current.secret_arn is None
        connection = self._validate(principal, body, credentials_required=needs_credentials)
        arn = current.secret_arn
        if body.credentials:
            arn = self._secrets().put(secret_name(org, integration_id), body.credentials)
        updated = Integration(
            id=integration_id,
            createdAt=current.integration.createdAt,
            updatedAt=iso_from_ms(now_ms()),
            connection=connection,
            credentialsSet=arn is not None,
            **body.model_dump(exclude={"credentials", "connection"}),
        )
        try:
            self.integrations.replace(org, updated, current.ver, secret_arn=arn)
        except Conflict:
            raise Conflict(f"integration {integration_id} was changed concurrently; retry") from None
        self._scheduler().upsert(org, integration_id, updated.scheduleMinutes, updated.enabled)
        return self._with_status(org, updated)

    def delete(self, principal: Principal, integration_id: str) -> None:
        """Schedule first (no more ticks), then the secret, then the items: a failure part-way
        leaves the integration readable and the DELETE can simply be repeated."""
        require(principal, "integrations:write")
        org = principal.org_id
        current = self._visible(principal, integration_id)
        self._scheduler().delete(org, integration_id)
        if current.secret_arn:
            self._secrets().delete(current.secret_arn)
        self.integrations.delete(org, integration_id)

    # ------------------------------------------------------------ runs
    def start_run(self, principal: Principal, integration_id: str) -> IntegrationRunOut:
        """Queue one pull now: a ``queued`` run, then its step on the pull queue. If the queue
        refuses, the run is recorded as failed and the answer is 503."""
        require(principal, "integrations:write")
        org = principal.org_id
        self._visible(principal, integration_id)
        at = now_ms()
        run = IntegrationRun(
            run_id=new_sortable_id(RUN_ID_PREFIX, at),
            integration_id=integration_id,
            reason="manual",
            state=RunState.queued.value,
            queued_ms=at,
        )
        self.integrations.put_run(org, run)
        try:
            self._pull_queue().send(PullStep(org, integration_id, run.run_id, reason="manual"))
        except Unavailable:
            run.state, run.finished_ms = RunState.failed.value, now_ms()
            run.error = {"type": "unavailable", "message": "the pull queue refused the step"}
            self.integrations.put_run(org, run)
            raise
        return run.as_out()

    def runs(self, principal: Principal, integration_id: str, limit: int = DEFAULT_RUNS) -> RunList:
        require(principal, "integrations:read")
        self._visible(principal, integration_id)
        return RunList(items=[r.as_out() for r in self.integrations.runs(principal.org_id, integration_id, limit)])

    def _with_status(self, org_id: str, integration: Integration) -> Integration:
        return integration.model_copy(update={"status": self.integrations.state(org_id, integration.id).as_status()})

    # ------------------------------------------------------------ tenancy
    def _visible(self, principal: Principal, integration_id: str) -> StoredIntegration:
        stored = self.integrations.find(principal.org_id, integration_id) if _is_id(integration_id) else None
        if stored is None or not self._visible_ids(principal, [stored.integration]):
            raise NotFound(f"integration {integration_id} not found")
        return stored

    def _visible_ids(self, principal: Principal, integrations: Sequence[Integration]) -> set[str]:
        if not principal.filtered:
            return {i.id for i in integrations}
        wanted = {r.thingId for i in integrations for r in i.resources}
        things = self.repo.get_things(principal.org_id, sorted(wanted)) if wanted else {}
        reach = {t.id for t in things.values() if principal.can_see_thing(t.id, t.placeId)}
        return {i.id for i in integrations if i.resources and all(r.thingId in reach for r in i.resources)}

    # ------------------------------------------------------------ validation
    def _validate(self, principal: Principal, body: IntegrationIn, *, credentials_required: bool) -> dict[str, Any]:
        """Every field error at once (400), the connection with its defaults filled in; a mapped
        thing that is absent or outside the key's filter is a 404 naming its field."""
        errors: builtins.list[FieldError] = []
        connection: dict[str, Any] = {}
        try:
            model = parse(CONNECTION_MODELS[body.provider.value], body.connection, prefix=("connection",))
            connection = model.model_dump(mode="json", exclude_none=True)
        except ValidationFailed as exc:
            errors.extend(exc.errors)
        errors.extend(_credential_errors(body.provider.value, body.credentials, credentials_required))
        errors.extend(self._template_errors(principal.org_id, body.templateId))
        seen: dict[str, int] = {}
        for index, resource in enumerate(body.resources):
            if resource.externalId in seen:
                errors.append(
                    FieldError(("resources", index, "externalId"), f"repeats resources/{seen[resource.externalId]}")
                )
            seen.setdefault(resource.externalId, index)
        if principal.filtered and not body.resources:
            errors.append(FieldError(("resources",), "a key with resource filters must map at least one thing"))
        if errors:
            raise ValidationFailed(errors)
        self._check_things(principal, body)
        return connection

    def _template_errors(self, org_id: str, template_id: str) -> builtins.list[FieldError]:
        found = self.templates.get(org_id, template_id) if template_id.startswith("tmpl_") else None
        if found is None or found.template.status is TemplateStatus.deleted:
            return [FieldError(("templateId",), f"template {template_id} does not exist")]
        if found.template.target is not TemplateTarget.Integrations:
            return [
                FieldError(
                    ("templateId",),
                    f"template {template_id} targets {found.template.target.value}; "
                    "an integration needs an Integrations template",
                )
            ]
        return []

    def _check_things(self, principal: Principal, body: IntegrationIn) -> None:
        wanted = sorted({r.thingId for r in body.resources})
        things = self.repo.get_things(principal.org_id, wanted) if wanted else {}
        missing = [
            FieldError(("resources", index, "thingId"), f"thing {r.thingId} not found")
            for index, r in enumerate(body.resources)
            if r.thingId not in things or not principal.can_see_thing(r.thingId, things[r.thingId].placeId)
        ]
        if missing:
            first = missing[0]
            raise NotFound(f"{'/'.join(map(str, first.path))}: {first.message}", errors=[e.as_dict() for e in missing])


def _is_id(integration_id: str) -> bool:
    return integration_id.startswith(INTEGRATION_ID_PREFIX + "_") and len(integration_id) <= 128


def _credential_errors(provider: str, credentials: Mapping[str, Any] | None, required: bool) -> list[FieldError]:
    """Shape only, never a value in a message. Keys beyond the required ones are kept (a
    ``webhookSecret``, OAuth refresh material, a cached Geotab session)."""
    if credentials is None:
        needed = REQUIRED_CREDENTIALS[provider]
        if required and needed:
            return [FieldError(("credentials",), f"is required for provider {provider}")]
        return []
    errors: list[FieldError] = []
    for choice in REQUIRED_CREDENTIALS[provider]:
        if not any(isinstance(credentials.get(k), str) and credentials[k] for k in choice):
            alternatives = f" (or {', '.join(choice[1:])})" if len(choice) > 1 else ""
            errors.append(FieldError(("credentials", choice[0]), f"is required{alternatives}"))
    for key, value in credentials.items():
        if key == "headers":
            if not isinstance(value, dict) or not all(isinstance(v, str) for v in value.values()):
                errors.append(FieldError(("credentials", "headers"), "must be an object of header names to strings"))
        elif not isinstance(value, str):
            errors.append(FieldError(("credentials", key), "must be a string"))
    return errors
