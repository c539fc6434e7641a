"""Runtime settings: the only module in the domain layer that reads the environment.

A frozen dataclass, not a pydantic model: the writer and the authorizer load no pydantic, and
parsing a dozen strings needs no framework. :func:`settings` parses once per execution
environment (cold start) and raises ``ValueError`` naming the variable on a bad value, so a
misconfigured function fails at its first invocation, not halfway through a request. Every
variable, its default and who reads it: docs/settings.md.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from typing import Literal

ReadingStoreKind = Literal["dynamodb", "timestream"]


def _text(env: Mapping[str, str], name: str, default: str = "") -> str:
    return (env.get(name) or default).strip()


def _number(env: Mapping[str, str], name: str, default: float, *, minimum: float = 0.0) -> float:
    raw = _text(env, name)
    try:
        value = float(raw) if raw else default
    except ValueError:
        raise ValueError(f"environment variable {name} must be a number, not {raw!r}") from None
    if not value >= minimum:  # also refuses NaN
        raise ValueError(f"environment variable {name} must be at least {minimum}, not {raw!r}")
    return value


def _flag(env: Mapping[str, str], name: str, default: bool) -> bool:
    raw = _text(env, name).lower()
    return default if not raw else raw in ("1", "true", "yes")


def _retention(env: Mapping[str, str], name: str) -> tuple[tuple[str, float], ...]:
    """``org=days,...`` with ``*`` for every other organization; empty keeps readings forever."""
    out: list[tuple[str, float]] = []
    for part in filter(None, (p.strip() for p in _text(env, name).split(","))):
        org, sep, days = part.partition("=")
        try:
            value = float(days)
        except ValueError:
            value = float("nan")
        if not sep or not org.strip() or not value >= 1:
            raise ValueError(f"environment variable {name} must be org=days pairs (days >= 1), not {part!r}")
        out.append((org.strip(), value))
    return tuple(out)


def _origin(env: Mapping[str, str], name: str) -> str:
    """A browser origin, ``scheme://host[:port]`` without a path (what a browser sends in ``Origin``)."""
    raw = _text(env, name).rstrip("/")
    scheme, sep, host = raw.partition("://")
    if raw and (scheme not in ("http", "https") or not sep or not host or "/" in host or "*" in host):
        raise ValueError(f"environment variable {name} must be an origin like https://console.example.com, not {raw!r}")
    return raw


@dataclass(frozen=True, slots=True)
class Settings:
    #: the definitions table (DynamoDB): every function but the writer
    definitions_table: str = ""
    #: the reading store backend chosen by the template's ReadingStoreBackend parameter
    reading_store: ReadingStoreKind = "dynamodb"
    readings_table: str = ""
    timestream_database: str = ""
    timestream_table: str = ""
    readings_queue_url: str = ""
    #: raw reading retention per organization, in days (``*``: the others); rollups are kept
    readings_retention: tuple[tuple[str, float], ...] = ()
    #: seconds a warm container may reuse definitions it has read
    definitions_cache_ttl: float = 30.0
    #: the bucket dialect's per-key token bucket
    dakkio_rate_burst: int = 100
    dakkio_rate_per_second: float = 10.0
    #: set by the local stack and moto; Timestream's endpoint discovery ignores it otherwise
    aws_endpoint_url: str | None = None
    #: powertools' own switches, read here so no other module touches the environment
    tracing_enabled: bool = True
    cold_start_metric: bool = True
    #: POWERTOOLS_METRICS_NAMESPACE (powertools reads it itself too, but only when Metrics() is built)
    metrics_namespace: str | None = None
    # --- integrations (intg-core): docs/settings.md, docs/integrations.md
    #: the pull queue (one message = one pull step): URL to send, ARN as the schedules' target
    pull_queue_url: str = ""
    pull_queue_arn: str = ""
    #: the EventBridge Scheduler group of the integrations' schedules, and the role it assumes
    scheduler_group: str = ""
    scheduler_role_arn: str = ""
    # --- integration pulls and webhooks (intg-pull): docs/settings.md, docs/integrations.md
    #: the step lease: a little over the pull function's timeout (a crashed step's lease frees itself)
    pull_lease_seconds: float = 90.0
    #: where an integration's first pull (no cursor yet) starts: now minus this
    pull_first_run_lookback_hours: float = 24.0
    #: connectors may reach loopback addresses (the local stack's provider fakes); never in AWS
    integrations_allow_loopback: bool = False
    #: every provider call: timeout and the largest response read
    provider_timeout_seconds: float = 30.0
    provider_max_response_bytes: int = 48 * 1024 * 1024
    #: a signed webhook delivery seen again within this window is a replay (401)
    webhook_replay_window_seconds: int = 24 * 3600
    # --- the web console (docs/console.md)
    #: the one browser origin (``https://host[:port]``) the platform API admits by CORS; empty: none
    cors_allow_origin: str = ""

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if env is None else env
        store = _text(env, "READING_STORE", "dynamodb").lower()
        if store not in ("dynamodb", "timestream"):
            raise ValueError(f"READING_STORE must be 'dynamodb' or 'timestream', not {store!r}")
        return cls(
            definitions_table=_text(env, "DEFINITIONS_TABLE"),
            reading_store=store,  # type: ignore[arg-type]  # checked above
            readings_table=_text(env, "READINGS_TABLE"),
            timestream_database=_text(env, "TIMESTREAM_DATABASE"),
            timestream_table=_text(env, "TIMESTREAM_TABLE"),
            readings_queue_url=_text(env, "READINGS_QUEUE_URL"),
            readings_retention=_retention(env, "READINGS_RETENTION"),
            definitions_cache_ttl=_number(env, "DEFINITIONS_CACHE_TTL", 30.0),
            dakkio_rate_burst=int(_number(env, "DAKKIO_RATE_BURST", 100, minimum=1)),
            dakkio_rate_per_second=_number(env, "DAKKIO_RATE_PER_SECOND", 10.0),
            aws_endpoint_url=_text(env, "AWS_ENDPOINT_URL") or None,
            tracing_enabled=not _flag(env, "POWERTOOLS_TRACE_DISABLED", False),
            cold_start_metric=not _flag(env, "POWERTOOLS_METRICS_DISABLED", False),
            metrics_namespace=_text(env, "POWERTOOLS_METRICS_NAMESPACE") or None,
            pull_queue_url=_text(env, "PULL_QUEUE_URL"),
            pull_queue_arn=_text(env, "PULL_QUEUE_ARN"),
            scheduler_group=_text(env, "SCHEDULER_GROUP"),
            scheduler_role_arn=_text(env, "SCHEDULER_ROLE_ARN"),
            pull_lease_seconds=_number(env, "INTEGRATION_PULL_LEASE_SECONDS", 90.0, minimum=1),
            pull_first_run_lookback_hours=_number(env, "INTEGRATION_FIRST_RUN_LOOKBACK_HOURS", 24.0),
            integrations_allow_loopback=_flag(env, "INTEGRATIONS_ALLOW_LOOPBACK", False),
            provider_timeout_seconds=_number(env, "PROVIDER_TIMEOUT_SECONDS", 30.0, minimum=0.1),
            provider_max_response_bytes=int(
                _number(env, "PROVIDER_MAX_RESPONSE_BYTES", 48 * 1024 * 1024, minimum=1024)
            ),
            webhook_replay_window_seconds=int(_number(env, "WEBHOOK_REPLAY_WINDOW_SECONDS", 86400, minimum=60)),
            cors_allow_origin=_origin(env, "CORS_ALLOW_ORIGIN"),
        )

    def required(self, field: str, variable: str) -> str:
        """A setting the caller cannot work without (``ValueError`` naming the variable)."""
        value = getattr(self, field)
        if not value:
            raise ValueError(f"environment variable {variable} must be set")
        return str(value)


@cache
def settings() -> Settings:
    """Parsed once per execution environment (tests that change the environment call
    ``settings.cache_clear()``, as the local stack does when it starts)."""
    return Settings.from_env()


def on_lambda() -> bool:
    """True in a Lambda execution environment (the runtime sets ``LAMBDA_TASK_ROOT``), not in tests
    or the local stack's in-process functions: what :mod:`telemetry.coldstart` keys on."""
    return bool(os.environ.get("LAMBDA_TASK_ROOT"))
