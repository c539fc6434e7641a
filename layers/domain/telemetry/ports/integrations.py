"""Ports of the integrations capability (docs/integrations.md): what a pull step needs from the
outside world, so the services run on fakes in tests and on AWS and the providers when deployed.

- :class:`Connector`: one provider's API (Geotab, Zubie, UtilityAPI, generic ``http``). One call
  fetches ONE page or window from a cursor; the service owns the cursor, the lease and the retry
  policy, the connector owns the wire format (auth, paging, the provider's error shapes).
- :class:`SecretStore`: write-only credentials (AWS Secrets Manager when deployed).
- :class:`PullScheduler`: one schedule per enabled integration (EventBridge Scheduler).
- :class:`PullQueue`: the pull steps (SQS), one message = one step.

The connector's refusals are the exceptions below; every other exception of a connector is a
defect and is treated like :class:`ProviderUnavailable` (the cursor does not move).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

#: the providers a connector exists for (``Integration.provider``)
PROVIDERS = ("geotab", "zubie", "utilityapi", "http")


@dataclass(frozen=True, slots=True)
class ProviderRecord:
    """One raw provider record, exactly as the provider sent it (a JSON object), with its type.

    ``record_type`` is what an Integrations template selects on: Geotab's feed ``typeName``
    (``StatusData``, ``LogRecord``, ...), Zubie's ``TripPoint`` / ``Trip``, UtilityAPI's
    ``IntervalReading`` (one per interval reading, the meter uid copied in), ``http``'s configured name.
    """

    record_type: str
    data: Mapping[str, Any]


@dataclass(frozen=True, slots=True)
class PullRequest:
    connection: Mapping[str, Any]  #: non-secret settings (Geotab server + database, a base URL, ...)
    credentials: Mapping[str, Any]  #: the secret's JSON (may include a cached session)
    cursor: Mapping[str, Any] | None  #: the connector's own cursor from the last acknowledged page; None = first run
    external_ids: Sequence[str]  #: the integration's mapped resources (devices, vehicles, meters)
    start_ms: int  #: where a first run begins (epoch ms), e.g. now - 24 h
    now_ms: int


@dataclass(frozen=True, slots=True)
class PullPage:
    records: list[ProviderRecord]
    cursor: dict[str, Any]  #: the cursor to store once these records are durably queued
    more: bool  #: data is waiting beyond this page: the next step is enqueued at once
    #: credentials to write back (a new Geotab session or server ``path``); None = unchanged
    credentials: Mapping[str, Any] | None = None
    calls: int = 1  #: provider calls this page took (status totals)


class ProviderError(Exception):
    """A provider refused or failed. ``message`` never contains a secret."""

    kind = "provider_error"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class ProviderThrottled(ProviderError):
    """429 / Geotab ``OverLimitException``: no call before ``retry_after_s`` seconds from now."""

    kind = "throttled"

    def __init__(self, message: str, retry_after_s: float | None) -> None:
        super().__init__(message)
        self.retry_after_s = retry_after_s


class ProviderAuthFailed(ProviderError):
    """Credentials refused (after the connector's one re-authentication): needs a human."""

    kind = "auth_failed"


class ProviderUnavailable(ProviderError):
    """5xx, timeout, connection refused, an unparseable answer: try again later, cursor unchanged."""

    kind = "unavailable"


class EgressRefused(ProviderError):
    """A tenant-supplied URL (or a redirect) resolves to a private, loopback, link-local or
    metadata address in a deployed stack. A configuration problem: needs a human."""

    kind = "egress_refused"


class Connector(Protocol):
    provider: str

    def pull(self, request: PullRequest) -> PullPage:
        """Fetch ONE page/window after ``request.cursor``. Raises :class:`ProviderError` subclasses."""
        ...


class SecretStore(Protocol):
    def put(self, name: str, value: Mapping[str, Any]) -> str:
        """Create or replace the secret ``name``; returns its ARN."""
        ...

    def get(self, arn: str) -> dict[str, Any]: ...

    def delete(self, arn: str) -> None: ...


class PullScheduler(Protocol):
    def upsert(self, org_id: str, integration_id: str, every_minutes: int, enabled: bool) -> None:
        """Create or change the integration's schedule (``rate(N minutes)``, target the pull queue)."""
        ...

    def delete(self, org_id: str, integration_id: str) -> None: ...


@dataclass(frozen=True, slots=True)
class PullStep:
    """The body of one pull-queue message."""

    org_id: str
    integration_id: str
    run_id: str | None = None  #: None for a scheduled tick (the step names its own run)
    reason: str = "schedule"  #: schedule | manual | webhook | continue
    #: records a provider pushed whole (a webhook), mapped instead of a pull
    pushed: list[dict[str, Any]] = field(default_factory=list)


class PullQueue(Protocol):
    def send(self, step: PullStep) -> None:
        """Raises :class:`telemetry.errors.Unavailable` if the queue refuses."""
        ...
