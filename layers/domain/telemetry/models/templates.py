"""Template models: the API shapes (create, update, stored template) and one spec model per format.

A template's ``spec`` is kept as a plain JSON object on :class:`TemplateCreate`, :class:`TemplateUpdate`
and :class:`Template`; which spec model applies depends on ``target`` + ``format`` and is decided by
:func:`telemetry.services.templates.validate_template` (so that every spec error is reported with
its full path, and an unsupported target is a ``NotSupported`` rather than a schema error).
:func:`spec_model_for` names the model for a target/format pair. See ``docs/templates.md``.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from pydantic import Field, field_validator, model_validator

from telemetry.models.base import Answer, ApiModel, OutModel, with_examples

TEMPLATE_ID_PREFIX = "tmpl"


class TemplateTarget(StrEnum):
    ThingData = "ThingData"
    Transactions = "Transactions"
    Integrations = "Integrations"


class TemplateFormat(StrEnum):
    JsonPointer = "JsonPointer"
    JavaScriptHandler = "JavaScriptHandler"
    Dbc = "Dbc"


class TemplateStatus(StrEnum):
    active = "active"
    deleted = "deleted"


class TimestampFormat(StrEnum):
    iso8601 = "iso8601"
    epoch_ms = "epoch_ms"
    epoch_s = "epoch_s"


class SelectorScope(StrEnum):
    record = "record"
    document = "document"


Scalar = bool | int | float | str

# --------------------------------------------------------------------------- shared pieces


class Selector(ApiModel):
    """Where a value is read: an RFC 6901 pointer, from the current record or the whole document."""

    pointer: str = Field(max_length=1024)
    scope: SelectorScope = SelectorScope.record


class Transform(ApiModel):
    """``value * scale + offset``, applied to present values of numeric metrics."""

    scale: float = Field(default=1.0, strict=True)
    offset: float = Field(default=0.0, strict=True)


class TimestampSpec(ApiModel):
    source: Selector
    format: TimestampFormat


class MetricMapping(ApiModel):
    """One external value to one metric (``mdef_…``)."""

    metricId: str = Field(min_length=1, max_length=128)
    source: Selector
    transform: Transform | None = None
    enumMap: dict[str, int] | None = Field(default=None, max_length=1000)
    default: Scalar | None = None


# --------------------------------------------------------------------------- ThingData specs


class JsonPointerSpec(ApiModel):
    """``ThingData`` + ``JsonPointer``."""

    recordsPointer: str | None = Field(default=None, max_length=1024)
    timestamp: TimestampSpec
    mappings: list[MetricMapping]


class JavaScriptHandlerSpec(ApiModel):
    """``ThingData`` + ``JavaScriptHandler``.

    ``source`` defines ``function handler(payload, context)`` returning an array of
    ``{timestamp: <epoch ms number | ISO 8601 string>, metrics: {<metricId>: value}}``.
    ``metricIds`` declares every metric the handler may emit (checked at create time, and a value
    for an undeclared id is reported as invalid at apply time). Limits are capped, see
    :mod:`telemetry.services.templates.limits`.
    """

    source: str = Field(min_length=1)
    metricIds: list[str] = Field(min_length=1)
    timeoutMs: int = Field(default=1000, ge=1, le=5000)
    memoryLimitMb: int = Field(default=64, ge=16, le=256)


class DbcTimestampFormat(StrEnum):
    auto = "auto"
    iso8601 = "iso8601"
    epoch_ms = "epoch_ms"
    epoch_s = "epoch_s"


class DbcSignalMapping(ApiModel):
    """One DBC signal (``Message.Signal`` or a signal name unique in the DBC) to one metric."""

    signal: str = Field(min_length=1, max_length=256)
    metricId: str = Field(min_length=1, max_length=128)
    transform: Transform | None = None
    enumMap: dict[str, int] | None = Field(default=None, max_length=1000)
    default: Scalar | None = None


class DbcSpec(ApiModel):
    """``ThingData`` + ``Dbc``: the DBC text, the frames array pointer and signal mappings.

    Each frame is ``{"id": <int | "0x1A2" | "418">, "data": "<hex>" | "dataBase64": "<base64>",
    "timestamp": <epoch ms | ISO 8601>}`` (``timestampFormat`` may pin the format).
    """

    dbc: str = Field(min_length=1)
    recordsPointer: str = Field(default="/frames", max_length=1024)
    timestampFormat: DbcTimestampFormat = DbcTimestampFormat.auto
    mappings: list[DbcSignalMapping]


# --------------------------------------------------------------------------- Transactions spec


class TransactionSelector(Selector):
    """A selector with an optional constant used when the source is absent or ``null``."""

    default: Scalar | None = None


class TransactionsJsonPointerSpec(ApiModel):
    """``Transactions`` + ``JsonPointer``: each record becomes one Transaction.

    A Transaction is ``{id, time, type, amount?, currency?, quantity?, attributes}``; it needs
    ``amount`` + ``currency`` and/or ``quantity``.
    """

    recordsPointer: str | None = Field(default=None, max_length=1024)
    timestamp: TimestampSpec
    id: TransactionSelector
    type: TransactionSelector
    amount: TransactionSelector | None = None
    currency: TransactionSelector | None = None
    quantity: TransactionSelector | None = None
    attributes: dict[str, TransactionSelector] = Field(default_factory=dict, max_length=50)


# --------------------------------------------------------------------------- Integrations spec


class RecordMatch(ApiModel):
    """Which records of a type a rule takes: the value at ``pointer`` equals ``equals``, or is one of ``in``.

    Exactly one of ``equals`` / ``in`` is given; comparison is by JSON value (``1`` matches ``1``
    and ``1.0``, never ``"1"`` or ``true``).
    """

    pointer: str = Field(max_length=1024)
    equals: Scalar | None = None
    in_: list[Scalar] | None = Field(default=None, alias="in", min_length=1, max_length=1000)

    @model_validator(mode="after")
    def _one_of(self) -> RecordMatch:
        if (self.equals is None) == (self.in_ is None):
            raise ValueError("give exactly one of equals or in")
        return self


class ThingPointer(ApiModel):
    """Where a record names its external resource (a Geotab device id, a Zubie vehicle key, a meter uid).

    The value (a string, or an integer taken as its decimal text) is resolved to a Thing through
    the integration's ``resources``.
    """

    pointer: str = Field(max_length=1024)


class IntegrationRule(ApiModel):
    """One kind of provider record onto readings: selector, thing, timestamp, metric mappings."""

    recordType: str = Field(min_length=1, max_length=128)
    match: RecordMatch | None = None
    thing: ThingPointer
    timestamp: TimestampSpec
    mappings: list[MetricMapping]


class IntegrationsJsonPointerSpec(ApiModel):
    """``Integrations`` + ``JsonPointer``: provider records → readings of the integration's mapped things.

    Every record is offered to the rules in order; the first rule whose ``recordType`` and
    ``match`` fit maps it (each record is its own document: selectors are record-scoped).
    """

    rules: list[IntegrationRule] = Field(min_length=1, max_length=50)


_SPEC_MODELS: dict[tuple[TemplateTarget, TemplateFormat], type[ApiModel]] = {
    (TemplateTarget.ThingData, TemplateFormat.JsonPointer): JsonPointerSpec,
    (TemplateTarget.ThingData, TemplateFormat.JavaScriptHandler): JavaScriptHandlerSpec,
    (TemplateTarget.ThingData, TemplateFormat.Dbc): DbcSpec,
    (TemplateTarget.Transactions, TemplateFormat.JsonPointer): TransactionsJsonPointerSpec,
    (TemplateTarget.Integrations, TemplateFormat.JsonPointer): IntegrationsJsonPointerSpec,
}


def spec_model_for(target: TemplateTarget, fmt: TemplateFormat) -> type[ApiModel] | None:
    """The spec model for a target/format pair, or ``None`` when no handler is registered."""
    return _SPEC_MODELS.get((target, fmt))


# --------------------------------------------------------------------------- API models


class TemplateCreate(ApiModel):
    name: str = Field(min_length=1, max_length=256)
    description: str | None = Field(default=None, max_length=2048)
    target: TemplateTarget
    format: TemplateFormat
    spec: dict[str, Any]
    tags: list[str] = Field(default_factory=list, max_length=50)

    @field_validator("tags")
    @classmethod
    def _tags(cls, tags: list[str]) -> list[str]:
        _check_tags(tags)
        return tags

    model_config = with_examples(
        {
            "name": "Acme Telemetry v1",
            "target": "ThingData",
            "format": "JsonPointer",
            "spec": {
                "recordsPointer": "/readings",
                "timestamp": {"source": {"pointer": "/ts"}, "format": "iso8601"},
                "mappings": [{"metricId": "mdef_voltage", "source": {"pointer": "/v"}}],
            },
        }
    )


class TemplateUpdate(ApiModel):
    """``PUT /v2/templates/{id}``: name, description, spec and tags. ``target``/``format`` are immutable.

    Omitted (``None``) fields keep their current value.
    """

    name: str | None = Field(default=None, min_length=1, max_length=256)
    description: str | None = Field(default=None, max_length=2048)
    spec: dict[str, Any] | None = None
    tags: list[str] | None = Field(default=None, max_length=50)

    model_config = with_examples({"description": "Acme gateways, firmware 2.x", "tags": ["acme", "fw2"]})

    @model_validator(mode="before")
    @classmethod
    def _immutable(cls, data: Any) -> Any:
        if isinstance(data, dict):
            fixed = [k for k in ("target", "format") if k in data]
            if fixed:
                raise ValueError(f"{' and '.join(fixed)} cannot be changed after creation")
        return data

    @field_validator("tags")
    @classmethod
    def _tags(cls, tags: list[str] | None) -> list[str] | None:
        if tags is not None:
            _check_tags(tags)
        return tags


class Template(OutModel):
    id: str
    revision: int = Field(ge=1)
    status: TemplateStatus = TemplateStatus.active
    createdAt: str
    updatedAt: str
    name: str
    description: str | None = None
    target: TemplateTarget
    format: TemplateFormat
    spec: dict[str, Any]
    tags: list[str] = Field(default_factory=list)


# --------------------------------------------------------------------------- answers of apply, test, transactions


class SkippedRecord(Answer):
    index: int = Field(ge=0)
    reason: str
    value: Any = Field(default=None, description="the offending value (bounded), for the reasons that carry one")


class SkippedField(Answer):
    metricId: str
    count: int = Field(ge=1)


class InvalidField(Answer):
    metricId: str
    reason: str
    count: int = Field(ge=1)


class ApplyReportAnswer(Answer):
    """The processing report of an apply or a dry run (docs/templates.md, "The report")."""

    previewOnly: bool
    templateId: str
    templateRevision: int = Field(ge=1)
    recordsParsed: int = Field(ge=0)
    readingsWritten: int = Field(ge=0)
    metricValuesWritten: int = Field(ge=0)
    recordsSkipped: list[SkippedRecord]
    metricsSkippedNotOnTtd: list[str]
    fieldsSkippedMissing: list[SkippedField]
    fieldsInvalid: list[InvalidField]
    transactionsWritten: int | None = Field(default=None, ge=0, description="only for the Transactions target")
    recordsSkippedByReason: dict[str, int] | None = Field(default=None, description="only for the Integrations target")


class PreviewReading(Answer):
    timestamp: int
    time: str
    metrics: dict[str, Any]


class TransactionAnswer(Answer):
    id: str
    type: str
    timestamp: int
    time: str
    amount: float | None = None
    currency: str | None = None
    quantity: float | None = None
    attributes: dict[str, Any]


class ApplyAnswer(ApplyReportAnswer):
    """The report, plus (when previewing, and always for a dry run) what would be written:
    ``readings`` (ThingData; keyed by external id for an Integrations dry run) or ``transactions``."""

    readings: list[PreviewReading] | dict[str, list[PreviewReading]] | None = None
    transactions: list[TransactionAnswer] | None = None


class TransactionPage(Answer):
    """``GET /v2/transactions``: one type's transactions in ``[start, end)`` (epoch ms)."""

    type: str
    start: int
    end: int
    transactions: list[TransactionAnswer]
    continuationToken: str | None = None


def _check_tags(tags: list[str]) -> None:
    for tag in tags:
        if not 1 <= len(tag) <= 128:
            raise ValueError("each tag must be 1 to 128 characters")
    if len(set(tags)) != len(tags):
        raise ValueError("tags must be unique")
