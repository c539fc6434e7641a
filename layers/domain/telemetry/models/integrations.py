"""Integrations: the API bodies (:class:`IntegrationIn`, :class:`Integration`) and the pull
bookkeeping (:class:`IntegrationState`, :class:`IntegrationRun`), see docs/integrations.md.

``credentials`` are write-only: they are accepted on :class:`IntegrationIn`, go to the
SecretStore (secret :func:`secret_name`), and no stored or returned model carries them; a
response says only ``credentialsSet``. The state and runs are dataclasses (not API models): the
pull step reads and writes them, the API renders them as :class:`IntegrationStatus` and
:class:`IntegrationRunOut`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from pydantic import Field

from telemetry.models.base import Answer, ApiModel, OutModel, with_examples

INTEGRATION_ID_PREFIX = "intg"
RUN_ID_PREFIX = "run"

MIN_SCHEDULE_MINUTES = 1
MAX_SCHEDULE_MINUTES = 1440
DEFAULT_SCHEDULE_MINUTES = 15
MAX_RESOURCES = 1000


class Provider(StrEnum):
    geotab = "geotab"
    zubie = "zubie"
    utilityapi = "utilityapi"
    http = "http"


class Health(StrEnum):
    never_run = "never_run"
    ok = "ok"
    backing_off = "backing_off"
    needs_attention = "needs_attention"
    failing = "failing"


class RunState(StrEnum):
    queued = "queued"
    running = "running"
    succeeded = "succeeded"
    failed = "failed"
    skipped = "skipped"


def secret_name(org_id: str, integration_id: str) -> str:
    """The Secrets Manager name of an integration's credentials (IAM allows ``integrations/*``)."""
    return f"integrations/{org_id}/{integration_id}"


# --------------------------------------------------------------------------- connection settings
# One model per provider: the non-secret ``connection`` object (unknown keys refused). A
# ``baseUrl`` / ``server`` lets tests and the local stack point at the providers' fakes; where a
# tenant URL may actually lead is checked at pull time by the egress policy.

_URL = r"^https?://[^\s/?#]+[^\s]*$"
_HOST = r"^[A-Za-z0-9.-]+(:[0-9]{1,5})?$|^https?://[^\s/?#]+[^\s]*$"
_POINTER = r"^(/[^/]*)*$"
GEOTAB_MAX_RESULTS = 50_000


class GeotabConnection(ApiModel):
    server: str = Field(min_length=1, max_length=512, pattern=_HOST)  #: e.g. my.geotab.com (or a URL)
    database: str = Field(min_length=1, max_length=256)
    feeds: list[str] = Field(min_length=1, max_length=20)  #: GetFeed typeNames: StatusData, LogRecord, ...
    resultsLimit: int = Field(default=GEOTAB_MAX_RESULTS, ge=1, le=GEOTAB_MAX_RESULTS)


class ZubieConnection(ApiModel):
    baseUrl: str | None = Field(default=None, max_length=1024, pattern=_URL)
    #: the OAuth2 token URL (default https://login.zubiecar.com/oauth/token), for refreshing tokens
    tokenUrl: str | None = Field(default=None, max_length=1024, pattern=_URL)


class UtilityApiConnection(ApiModel):
    baseUrl: str | None = Field(default=None, max_length=1024, pattern=_URL)


class HttpConnection(ApiModel):
    url: str = Field(max_length=2048, pattern=_URL)
    cursorParam: str = Field(min_length=1, max_length=128)
    nextCursorPointer: str = Field(max_length=1024, pattern=_POINTER)
    recordsPointer: str = Field(max_length=1024, pattern=_POINTER)
    recordType: str = Field(min_length=1, max_length=128)
    headers: dict[str, str] | None = Field(default=None, max_length=50)  #: non-secret headers


CONNECTION_MODELS: dict[str, type[ApiModel]] = {
    "geotab": GeotabConnection,
    "zubie": ZubieConnection,
    "utilityapi": UtilityApiConnection,
    "http": HttpConnection,
}

#: credential keys a provider needs (any one of each inner tuple); every provider may add
#: ``webhookSecret``. Values are checked for type only and never echoed in an error.
REQUIRED_CREDENTIALS: dict[str, tuple[tuple[str, ...], ...]] = {
    "geotab": (("userName",), ("password", "sessionId")),
    "zubie": (("apiKey", "accessToken"),),
    "utilityapi": (("apiToken",),),
    "http": (),
}


# --------------------------------------------------------------------------- API bodies


class IntegrationResource(ApiModel):
    """One provider resource (a Geotab device id, a Zubie vehicle key, a UtilityAPI meter uid)
    mapped to one of our things."""

    externalId: str = Field(min_length=1, max_length=256)
    thingId: str = Field(min_length=1, max_length=128)


class IntegrationIn(ApiModel):
    """The body of ``POST /v2/integrations`` and ``PUT /v2/integrations/{id}``.

    ``credentials`` is write-only; on PUT, leaving it out keeps the stored credentials.
    """

    name: str = Field(min_length=1, max_length=256)
    provider: Provider
    connection: dict[str, Any] = Field(default_factory=dict)
    credentials: dict[str, Any] | None = Field(default=None, json_schema_extra={"writeOnly": True})
    scheduleMinutes: int = Field(default=DEFAULT_SCHEDULE_MINUTES, ge=MIN_SCHEDULE_MINUTES, le=MAX_SCHEDULE_MINUTES)
    resources: list[IntegrationResource] = Field(default_factory=list, max_length=MAX_RESOURCES)
    templateId: str = Field(min_length=1, max_length=128)
    enabled: bool = True

    model_config = with_examples(
        {
            "name": "Acme fleet",
            "provider": "geotab",
            "connection": {"server": "my.geotab.com", "database": "acme", "feeds": ["StatusData"]},
            "credentials": {"userName": "svc@acme.example", "password": "secret"},
            "scheduleMinutes": 15,
            "resources": [{"externalId": "b1", "thingId": "thing_0123456789"}],
            "templateId": "tmpl_0123456789",
        }
    )


class IntegrationStatus(OutModel):
    """What the last pulls did (from :class:`IntegrationState`); times are epoch ms."""

    health: Health = Health.never_run
    lastRunAt: int | None = None
    lastSuccessAt: int | None = None
    lastError: dict[str, str] | None = None
    cursor: dict[str, Any] | None = None
    backoffUntil: int | None = None
    consecutiveFailures: int = 0
    totals: dict[str, int] = Field(default_factory=dict)


class Integration(OutModel):
    """The stored and returned integration: never its credentials, only whether they are set.

    ``status`` is not stored with the configuration (the pull step writes the state item); the
    service fills it in when answering.
    """

    id: str
    name: str
    provider: Provider
    connection: dict[str, Any] = Field(default_factory=dict)
    credentialsSet: bool = False
    scheduleMinutes: int = DEFAULT_SCHEDULE_MINUTES
    resources: list[IntegrationResource] = Field(default_factory=list)
    templateId: str
    enabled: bool = True
    createdAt: str
    updatedAt: str
    status: IntegrationStatus | None = None


# --------------------------------------------------------------------------- pull bookkeeping

TOTAL_KEYS = ("runs", "records", "readings", "skipped", "calls")


def _zero_totals() -> dict[str, int]:
    return dict.fromkeys(TOTAL_KEYS, 0)


@dataclass(slots=True)
class IntegrationState:
    """The pull state of one integration. ``cursor_rev`` is the compare-and-set revision: a
    save succeeds only if the stored revision is still the one read (0 = never saved)."""

    cursor: dict[str, Any] | None = None
    cursor_rev: int = 0
    backoff_until_ms: int | None = None
    health: str = Health.never_run.value
    last_run_ms: int | None = None
    last_success_ms: int | None = None
    last_error: dict[str, str] | None = None  #: {"type", "message"}, never a secret
    consecutive_failures: int = 0
    totals: dict[str, int] = field(default_factory=_zero_totals)

    def to_doc(self) -> dict[str, Any]:
        """The stored document (``cursor_rev`` is the item's write counter, not a field)."""
        return {
            "cursor": self.cursor,
            "backoffUntilMs": self.backoff_until_ms,
            "health": self.health,
            "lastRunMs": self.last_run_ms,
            "lastSuccessMs": self.last_success_ms,
            "lastError": self.last_error,
            "consecutiveFailures": self.consecutive_failures,
            "totals": dict(self.totals),
        }

    @classmethod
    def from_doc(cls, doc: dict[str, Any], rev: int) -> IntegrationState:
        return cls(
            cursor=doc.get("cursor"),
            cursor_rev=rev,
            backoff_until_ms=doc.get("backoffUntilMs"),
            health=str(doc.get("health") or Health.never_run.value),
            last_run_ms=doc.get("lastRunMs"),
            last_success_ms=doc.get("lastSuccessMs"),
            last_error=doc.get("lastError"),
            consecutive_failures=int(doc.get("consecutiveFailures") or 0),
            totals={**_zero_totals(), **{str(k): int(v) for k, v in (doc.get("totals") or {}).items()}},
        )

    def as_status(self) -> IntegrationStatus:
        return IntegrationStatus(
            health=Health(self.health),
            lastRunAt=self.last_run_ms,
            lastSuccessAt=self.last_success_ms,
            lastError=self.last_error,
            cursor=self.cursor,
            backoffUntil=self.backoff_until_ms,
            consecutiveFailures=self.consecutive_failures,
            totals=dict(self.totals),
        )


@dataclass(slots=True)
class IntegrationRun:
    """One pull run (manual, scheduled, webhook). ``report`` is ApplyReport.as_dict()'s shape."""

    run_id: str
    integration_id: str
    reason: str
    state: str = RunState.queued.value
    queued_ms: int = 0
    started_ms: int | None = None
    finished_ms: int | None = None
    report: dict[str, Any] | None = None
    error: dict[str, str] | None = None
    pages: int = 0

    def to_doc(self) -> dict[str, Any]:
        return {
            "runId": self.run_id,
            "integrationId": self.integration_id,
            "reason": self.reason,
            "state": self.state,
            "queuedMs": self.queued_ms,
            "startedMs": self.started_ms,
            "finishedMs": self.finished_ms,
            "report": self.report,
            "error": self.error,
            "pages": self.pages,
        }

    @classmethod
    def from_doc(cls, doc: dict[str, Any]) -> IntegrationRun:
        return cls(
            run_id=str(doc["runId"]),
            integration_id=str(doc["integrationId"]),
            reason=str(doc["reason"]),
            state=str(doc["state"]),
            queued_ms=int(doc.get("queuedMs") or 0),
            started_ms=doc.get("startedMs"),
            finished_ms=doc.get("finishedMs"),
            report=doc.get("report"),
            error=doc.get("error"),
            pages=int(doc.get("pages") or 0),
        )

    def as_out(self) -> IntegrationRunOut:
        return IntegrationRunOut(
            runId=self.run_id,
            integrationId=self.integration_id,
            reason=self.reason,
            state=RunState(self.state),
            queuedAt=self.queued_ms,
            startedAt=self.started_ms,
            finishedAt=self.finished_ms,
            report=self.report,
            error=self.error,
            pages=self.pages,
        )


class IntegrationRunOut(OutModel):
    """A run as the API returns it (times epoch ms)."""

    runId: str
    integrationId: str
    reason: str
    state: RunState
    queuedAt: int
    startedAt: int | None = None
    finishedAt: int | None = None
    report: dict[str, Any] | None = None
    error: dict[str, str] | None = None
    pages: int = 0


class RunList(OutModel):
    items: list[IntegrationRunOut]


class IntegrationPage(OutModel):
    """A page of integrations (``continuationToken`` absent on the last page)."""

    items: list[Integration]
    continuationToken: str | None = None


class WebhookAnswer(Answer):
    """``POST /v2/integrations/{id}/webhook`` (202): the pull run the delivery queued."""

    accepted: bool
    runId: str
    recordsPushed: int = Field(ge=0, description="records pushed whole (0: the delivery is a hint to pull now)")
