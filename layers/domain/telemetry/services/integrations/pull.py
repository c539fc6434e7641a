"""One pull step of one integration (docs/integrations.md "Pulls, cursors and faults").

A step is one pull-queue message. It pulls ONE page (or window) after the stored cursor, maps it
with the integration's template, enqueues the readings on the SAME reading queue every other
reading takes (one :class:`AcceptedBatch` per page), and only after the queue acknowledged them
moves the cursor, with a compare-and-set on the state's revision. So:

* a crash after the enqueue and before the cursor write re-sends the same page next time; the
  store keys readings by (org, kind, series, time), so the same readings are stored once;
* two steps of one integration never run together: the lease (ttl a little over the Lambda
  timeout) makes the second one skip; and if a lease ever expired under a slow step, the CAS makes
  the slower step lose (it moves nothing and enqueues no more pages);
* more data waiting (``page.more``) sends the next step of the same run at once, after the lease
  is released (so that step can take it).

Faults, and what the message does (``StepOutcome.redeliver``):

=================================  ==============================================  =========
fault                              state                                           message
=================================  ==============================================  =========
ProviderThrottled                  ``backing_off`` until now + Retry-After (or     consumed
                                   exponential + jitter); no call before it
ProviderAuthFailed, EgressRefused, ``needs_attention``: scheduled and webhook      consumed
an unusable template               steps skip until the integration is replaced
                                   (``updatedAt`` after the failure) or a manual
                                   run is asked for
ProviderUnavailable, any other     ``failing``, exponential back-off; cursor       redelivered
exception (queue down, ...)        unchanged                                       (DLQ after
                                                                                   maxReceiveCount)
=================================  ==============================================  =========

A redelivery that arrives while its own failure's back-off runs fails again without calling the
provider, so a step that keeps failing reaches the DLQ; a first delivery (a scheduled tick) in the
same back-off is skipped, so the schedule does not fill the DLQ.

Credentials never reach the state, the run or a log: the connectors' messages are trusted not
to carry them, and every error text kept here is also scrubbed of the secret's values.
"""

from __future__ import annotations

import logging
import random
import traceback
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from telemetry.clock import iso_from_ms
from telemetry.clock import now_ms as clock_ms
from telemetry.errors import DomainError, FailedDependency, NotFound, ValidationFailed
from telemetry.ids import new_sortable_id
from telemetry.models.integrations import (
    RUN_ID_PREFIX,
    Health,
    Integration,
    IntegrationRun,
    IntegrationState,
    RunState,
    secret_name,
)
from telemetry.models.principal import ALL_SCOPES, Principal
from telemetry.models.readings import AcceptedBatch
from telemetry.models.templates import Template
from telemetry.ports.integrations import (
    Connector,
    EgressRefused,
    ProviderAuthFailed,
    ProviderError,
    ProviderRecord,
    ProviderThrottled,
    PullPage,
    PullQueue,
    PullRequest,
    PullStep,
    SecretStore,
)
from telemetry.ports.readings import ReadingQueue
from telemetry.repositories.integrations import IntegrationRepository, StoredIntegration
from telemetry.services.ingest import accept_version, new_batch_id
from telemetry.services.integrations.mapping import MappedPage, ThingTarget
from telemetry.services.integrations.steps import parse_step
from telemetry.services.template_catalog import TemplateCatalog
from telemetry.services.thing_context import ThingContextResolver

log = logging.getLogger(__name__)

Mapper = Callable[[Template, Sequence[ProviderRecord], Mapping[str, ThingTarget], int], MappedPage]
ConnectorFor = Callable[[str], Connector]

#: entries of ``recordsSkipped`` a run's merged report keeps (every page adds its own)
MAX_SKIPS_KEPT = 100


def new_run_id(now_ms: int) -> str:
    """``run_…``: ids sort by time, so the runs list reads newest first."""
    return new_sortable_id(RUN_ID_PREFIX, now_ms)


@dataclass(frozen=True, slots=True)
class PullSettings:
    #: the step lease; a little over the pull Lambda's timeout, so a crashed step's lease frees itself
    lease_ms: int = 90_000
    #: where a first run (no cursor) starts: now minus this
    first_run_lookback_ms: int = 24 * 3600 * 1000
    #: exponential back-off of failures (and of a throttle without Retry-After): base * 2^(n-1), capped
    backoff_base_ms: int = 30_000
    backoff_max_ms: int = 15 * 60_000


@dataclass(frozen=True, slots=True)
class StepOutcome:
    """What one step did. ``redeliver``: the handler fails the message so SQS retries it."""

    state: str  #: a RunState value: succeeded | failed | skipped (or running: more pages follow)
    reason: str  #: pulled, pushed, gone, disabled, backing_off, needs_attention, leased, cursor_race, or an error kind
    run_id: str | None = None
    redeliver: bool = False
    records: int = 0
    readings: int = 0
    more: bool = False
    error: dict[str, str] | None = None


class _Configuration(DomainError):
    """Something only a human can fix (the template, a credential secret): needs_attention."""

    reason = "configuration"
    kind = "configuration"

    @property
    def message(self) -> str:
        return self.detail


def scrub(text: str, secret: Mapping[str, Any]) -> str:
    """``text`` with every string value of ``secret`` (at any depth, 4+ characters) replaced by ``***``."""
    values: list[str] = []

    def walk(node: Any) -> None:
        if isinstance(node, str):
            if len(node) >= 4:
                values.append(node)
        elif isinstance(node, Mapping):
            for v in node.values():
                walk(v)
        elif isinstance(node, list | tuple):
            for v in node:
                walk(v)

    walk(secret)
    for value in sorted(values, key=len, reverse=True):
        text = text.replace(value, "***")
    return text


def merge_reports(total: dict[str, Any] | None, page: dict[str, Any], page_no: int) -> dict[str, Any]:
    """A run's report across its pages (ApplyReport.as_dict() shape): counts summed, per-metric
    counts summed by key, skipped records listed with their page (at most :data:`MAX_SKIPS_KEPT`)."""
    skipped = [{**entry, "page": page_no} for entry in page.get("recordsSkipped") or []]
    if total is None:
        return {**page, "recordsSkipped": skipped[:MAX_SKIPS_KEPT]}
    out = dict(total)
    for key, value in page.items():
        before = out.get(key)
        if key == "recordsSkipped":
            out[key] = (list(before or []) + skipped)[:MAX_SKIPS_KEPT]
        elif isinstance(value, bool) or key in ("templateId", "templateRevision"):
            out[key] = value
        elif isinstance(value, int) and isinstance(before, int):
            out[key] = before + value
        elif isinstance(value, dict) and isinstance(before, dict):
            out[key] = {k: int(before.get(k, 0)) + int(value.get(k, 0)) for k in {**before, **value}}
        elif key == "metricsSkippedNotOnTtd" and isinstance(value, list):
            out[key] = sorted(set(before or []) | set(value))
        elif isinstance(value, list) and all(isinstance(x, dict) and "count" in x for x in value):
            counted: dict[tuple[Any, ...], dict[str, Any]] = {}
            for entry in list(before or []) + value:
                ident = tuple(sorted((k, v) for k, v in entry.items() if k != "count"))
                if ident in counted:
                    counted[ident] = {**counted[ident], "count": counted[ident]["count"] + entry["count"]}
                else:
                    counted[ident] = dict(entry)
            out[key] = list(counted.values())
        else:
            out[key] = value
    return out


@dataclass(slots=True)
class _Step:
    """What one step carries through its stages."""

    step: PullStep
    stored: StoredIntegration
    state: IntegrationState
    run: IntegrationRun
    now_ms: int
    secret: dict[str, Any] = field(default_factory=dict)

    @property
    def integration(self) -> Integration:
        return self.stored.integration


class IntegrationPull:
    def __init__(
        self,
        integrations: IntegrationRepository,
        templates: TemplateCatalog,
        contexts: ThingContextResolver,
        secrets: SecretStore,
        connector_for: ConnectorFor,
        mapper: Mapper,
        readings: Callable[[], ReadingQueue],
        pulls: Callable[[], PullQueue],
        config: PullSettings | None = None,
        rng: random.Random | None = None,
    ) -> None:
        self.integrations = integrations
        self.templates = templates
        self.contexts = contexts
        self.secrets = secrets
        self.connector_for = connector_for
        self.mapper = mapper
        self._readings = readings
        self._pulls = pulls
        self.config = config or PullSettings()
        self.rng = rng or random.Random()  # jitter, not a secret

    # ------------------------------------------------------------ the step
    def run_message(self, body: str | bytes, attempt: int = 1) -> tuple[PullStep, StepOutcome]:
        """One pull-queue message (the pull function's record handler): parse, then step now.
        A body that can never be a step raises :class:`~telemetry.services.integrations.steps.PoisonStep`."""
        step = parse_step(body)
        return step, self.step(step, clock_ms(), attempt)

    def step(self, step: PullStep, now_ms: int, attempt: int = 1) -> StepOutcome:
        """Run one step. ``attempt`` is the message's receive count (1 = first delivery)."""
        org, iid = step.org_id, step.integration_id
        stored = self.integrations.find(org, iid)
        if stored is None:
            return StepOutcome(RunState.skipped.value, "gone", step.run_id)
        if not stored.integration.enabled:
            return self._skip(step, now_ms, "disabled", "the integration is disabled")
        state = self.integrations.state(org, iid)
        pushed = bool(step.pushed)  # records pushed whole need no provider call: no back-off applies
        if not pushed and state.backoff_until_ms is not None and state.backoff_until_ms > now_ms:
            until = iso_from_ms(state.backoff_until_ms)
            if attempt > 1 and state.health == Health.failing.value:
                # the redelivery of a failed step: fail again (towards the DLQ), call no one
                return StepOutcome(
                    RunState.failed.value,
                    "backing_off",
                    step.run_id,
                    redeliver=True,
                    error=state.last_error,
                )
            return self._skip(step, now_ms, "backing_off", f"backing off until {until}")
        if (
            not pushed
            and state.health == Health.needs_attention.value
            and step.reason != "manual"
            and not _replaced_since(stored.integration, state)
        ):
            return self._skip(
                step, now_ms, "needs_attention", "the integration needs attention; replace it or run it by hand"
            )
        owner = uuid.uuid4().hex
        if not self.integrations.take_lease(org, iid, owner, now_ms, self.config.lease_ms):
            if pushed:  # the records exist only in this message: retry it rather than drop them
                return StepOutcome(RunState.queued.value, "leased", step.run_id, redeliver=True)
            return self._skip(step, now_ms, "leased", "another step of this integration is running")
        try:
            outcome = self._leased(step, stored, state, now_ms)
        finally:
            self.integrations.release_lease(org, iid, owner)
        if outcome.more:
            # after the release, so the next step can take the lease at once
            try:
                self._pulls().send(PullStep(org, iid, run_id=outcome.run_id, reason="continue"))
            except Exception:
                log.warning("next pull step not queued; the message is retried", extra={"integration": iid})
                return replace(outcome, redeliver=True)
        return outcome

    def _skip(self, step: PullStep, now_ms: int, reason: str, message: str) -> StepOutcome:
        """A step that does nothing. A run someone asked for (manual, webhook) says why."""
        if step.run_id is not None:
            run = self.integrations.get_run(step.org_id, step.integration_id, step.run_id)
            if run is not None and run.state in (RunState.queued.value, RunState.running.value):
                run.state = RunState.skipped.value
                run.finished_ms = now_ms
                run.error = {"type": reason, "message": message}
                self.integrations.put_run(step.org_id, run)
        return StepOutcome(RunState.skipped.value, reason, step.run_id)

    def _start_run(self, step: PullStep, now_ms: int) -> IntegrationRun:
        run = self.integrations.get_run(step.org_id, step.integration_id, step.run_id) if step.run_id else None
        if run is None:
            run = IntegrationRun(
                run_id=step.run_id or new_run_id(now_ms),
                integration_id=step.integration_id,
                reason=step.reason,
                queued_ms=now_ms,
            )
        run.state = RunState.running.value
        run.started_ms = run.started_ms or now_ms
        run.finished_ms = None
        run.error = None
        self.integrations.put_run(step.org_id, run)
        return run

    def _leased(self, step: PullStep, stored: StoredIntegration, state: IntegrationState, now_ms: int) -> StepOutcome:
        ctx = _Step(step, stored, state, self._start_run(step, now_ms), now_ms)
        try:
            template, targets = self._mapping(ctx)
            ctx.secret = self.secrets.get(stored.secret_arn) if stored.secret_arn else {}
            page = self._page(ctx)
            mapped = self.mapper(template, page.records, targets, accept_version())
            if mapped.groups:
                self._readings().enqueue(AcceptedBatch(new_batch_id(), step.org_id, groups=mapped.groups))
        except ProviderThrottled as exc:
            delay = (
                int(exc.retry_after_s * 1000)
                if exc.retry_after_s is not None and exc.retry_after_s >= 0
                else self._backoff_ms(state.consecutive_failures + 1)
            )
            return self._failed(ctx, Health.backing_off, exc.kind, exc.message, now_ms + delay, redeliver=False)
        except (ProviderAuthFailed, EgressRefused, _Configuration) as exc:
            return self._failed(ctx, Health.needs_attention, exc.kind, exc.message, None, redeliver=False)
        except ProviderError as exc:  # ProviderUnavailable and any other refusal of the provider
            delay = self._backoff_ms(state.consecutive_failures + 1)
            return self._failed(ctx, Health.failing, exc.kind, exc.message, now_ms + delay, redeliver=True)
        except Exception as exc:  # a defect or a dependency (queue, store, secrets) down
            kind = exc.reason if isinstance(exc, DomainError) else "internal"
            # the traceback is logged scrubbed: an exception's text may quote a request it made
            trace = scrub("".join(traceback.format_exception(exc)), ctx.secret)
            log.error("pull step failed", extra={"integration": step.integration_id, "trace": trace})
            delay = self._backoff_ms(state.consecutive_failures + 1)
            message = (
                exc.detail if isinstance(exc, DomainError) else f"unexpected {type(exc).__name__}; it has been logged"
            )
            return self._failed(ctx, Health.failing, kind, message, now_ms + delay, redeliver=True)
        return self._succeeded(ctx, page, mapped)

    def _mapping(self, ctx: _Step) -> tuple[Template, dict[str, ThingTarget]]:
        """The template and the targets (external id → thing), before any provider call."""
        org, integration = ctx.step.org_id, ctx.integration
        try:
            template = self.templates.usable(org, integration.templateId)
        except (NotFound, ValidationFailed) as exc:
            raise _Configuration(f"template {integration.templateId}: {exc.detail}") from exc
        system = Principal(org_id=org, key_id=f"integration:{integration.id}", scopes=frozenset({ALL_SCOPES}))
        targets: dict[str, ThingTarget] = {}
        for resource in integration.resources:
            try:
                thing = self.contexts.resolve(system, resource.thingId)
            except (NotFound, FailedDependency) as exc:
                # its records are reported by the mapper as unmapped; the rest go through
                log.warning(
                    "integration resource not mapped", extra={"integration": integration.id, "detail": exc.detail}
                )
                continue
            targets[resource.externalId] = ThingTarget(thing.thing.id, thing.metrics)
        return template, targets

    def _page(self, ctx: _Step) -> PullPage:
        integration, state = ctx.integration, ctx.state
        if ctx.step.pushed:
            record_type = str(integration.connection.get("recordType") or "Pushed")
            return PullPage(
                records=[ProviderRecord(record_type, r) for r in ctx.step.pushed],
                cursor=dict(state.cursor or {}),
                more=False,
                calls=0,
            )
        connector = self.connector_for(integration.provider.value)
        return connector.pull(
            PullRequest(
                connection=integration.connection,
                credentials=ctx.secret,
                cursor=state.cursor,
                external_ids=[r.externalId for r in integration.resources],
                start_ms=ctx.now_ms - self.config.first_run_lookback_ms,
                now_ms=ctx.now_ms,
            )
        )

    def _backoff_ms(self, failures: int) -> int:
        """Exponential, capped, with "equal jitter": at least half of the step's delay."""
        delay = min(self.config.backoff_max_ms, self.config.backoff_base_ms * 2 ** max(0, min(failures - 1, 30)))
        return delay // 2 + self.rng.randint(0, delay - delay // 2)

    # ------------------------------------------------------------ bookkeeping
    def _succeeded(self, ctx: _Step, page: PullPage, mapped: MappedPage) -> StepOutcome:
        org, iid, state, run = ctx.step.org_id, ctx.step.integration_id, ctx.state, ctx.run
        report = mapped.report.as_dict()
        totals = dict(state.totals)
        for key, add in (
            ("runs", 1 if run.pages == 0 else 0),
            ("records", len(page.records)),
            ("readings", int(report.get("readingsWritten") or 0)),
            ("skipped", len(report.get("recordsSkipped") or [])),
            ("calls", page.calls),
        ):
            totals[key] = totals.get(key, 0) + add
        if ctx.step.pushed:
            # pushed records say nothing about the provider's API: its cursor, back-off and health stay
            saved = replace(state, last_run_ms=ctx.now_ms, totals=totals)
        else:
            saved = replace(
                state,
                cursor=dict(page.cursor),
                backoff_until_ms=None,
                health=Health.ok.value,
                last_run_ms=ctx.now_ms,
                last_success_ms=ctx.now_ms,
                last_error=None,
                consecutive_failures=0,
                totals=totals,
            )
        # ONLY now, after the queue acknowledged the page: move the cursor (compare-and-set)
        if not self.integrations.save_state(org, iid, saved, state.cursor_rev):
            log.warning("cursor write lost to another step; nothing more is enqueued", extra={"integration": iid})
            self._finish(
                ctx, RunState.skipped, {"type": "cursor_race", "message": "another step moved the cursor first"}
            )
            return StepOutcome(RunState.skipped.value, "cursor_race", run.run_id)
        if page.credentials:
            try:
                self.secrets.put(secret_name(org, iid), {**ctx.secret, **page.credentials})
            except Exception:  # the connector authenticates again next time
                log.warning("refreshed credentials not written back", extra={"integration": iid})
        run.pages += 1
        run.report = merge_reports(run.report, report, run.pages)
        if page.more:
            self.integrations.put_run(org, run)
        else:
            self._finish(ctx, RunState.succeeded, None)
        return StepOutcome(
            RunState.running.value if page.more else RunState.succeeded.value,
            "pushed" if ctx.step.pushed else "pulled",
            run.run_id,
            records=len(page.records),
            readings=int(report.get("readingsWritten") or 0),
            more=page.more,
        )

    def _failed(
        self, ctx: _Step, health: Health, kind: str, message: str, backoff_until: int | None, *, redeliver: bool
    ) -> StepOutcome:
        org, iid, state = ctx.step.org_id, ctx.step.integration_id, ctx.state
        error = {"type": kind, "message": scrub(message, ctx.secret)[:500]}
        failed = replace(
            state,
            backoff_until_ms=backoff_until,
            health=health.value,
            last_run_ms=ctx.now_ms,
            last_error=error,
            consecutive_failures=state.consecutive_failures + 1,
        )
        if not self.integrations.save_state(org, iid, failed, state.cursor_rev):
            log.warning("failure not recorded: another step saved the state first", extra={"integration": iid})
        self._finish(ctx, RunState.failed, error)
        log.warning(
            "pull step failed",
            extra={"integration": iid, "health": health.value, "error_type": kind, "error_message": error["message"]},
        )
        return StepOutcome(RunState.failed.value, kind, ctx.run.run_id, redeliver=redeliver, error=error)

    def _finish(self, ctx: _Step, state: RunState, error: dict[str, str] | None) -> None:
        ctx.run.state = state.value
        ctx.run.finished_ms = ctx.now_ms
        ctx.run.error = error
        self.integrations.put_run(ctx.step.org_id, ctx.run)


def _replaced_since(integration: Integration, state: IntegrationState) -> bool:
    """True when the integration was changed (PUT) after the failure that needs attention."""
    if state.last_run_ms is None:
        return True
    try:
        updated = datetime.fromisoformat(integration.updatedAt)
    except ValueError:
        return False
    return updated.timestamp() * 1000 > state.last_run_ms
