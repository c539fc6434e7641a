"""Request bodies as ``TypedDict``s, named as the OpenAPI components they mirror.

``tests/unit/telemetry_client/test_openapi_conformance.py`` compares each one with
``shared/openapi.json`` (its properties and which are required) and fails on any drift. Bodies
the OpenAPI document does not describe (frames, templates) are compared with the domain's own
pydantic models instead. Answers are plain JSON (``dict``): the document gives no response
schemas, and ``docs/api.md`` describes their fields.
"""

from typing import Any, Literal, NotRequired, Required, TypedDict

Json = dict[str, Any]
Scalar = float | int | bool | str

DataType = Literal["Double", "Int", "Bool", "String", "Json"]
Aggregation = Literal["Last", "First", "Avg", "Sum", "Min", "Max", "Count"]


class EnumValue(TypedDict):
    code: int
    label: str


class ValidRange(TypedDict, total=False):
    min: float
    max: float


class MetricCreate(TypedDict, total=False):
    name: Required[str]
    dataType: Required[DataType]
    defaultAggregation: Required[Aggregation]
    displayName: str | None
    description: str | None
    unitLabel: str | None
    enumValues: list[EnumValue] | None
    validRange: ValidRange | None


class Constraint(TypedDict):
    operator: Literal[">", ">=", "<", "<=", "==", "!="]
    value: str


class PropertyDefinition(TypedDict, total=False):
    name: Required[str]
    description: str | None
    unit: str | None
    valueType: Literal["string", "double", "int", "bool"]
    required: bool
    constraints: list[Constraint]


class ThingTypeCreate(TypedDict, total=False):
    displayName: Required[str]
    metricIds: Required[list[str]]
    description: str | None
    propertyDefinitions: list[PropertyDefinition]


class ThingTypeVersionCreate(TypedDict, total=False):
    metricIds: Required[list[str]]
    displayName: str | None
    description: str | None
    propertyDefinitions: list[PropertyDefinition]


class PlaceCreate(TypedDict, total=False):
    name: Required[str]
    description: str | None
    address: str | None
    timezone: str | None
    latitude: float | None
    longitude: float | None
    tags: list[str]


class ThingCreate(TypedDict, total=False):
    thingName: Required[str]
    thingType: str | None
    thingTypeId: str | None
    thingDescription: str | None
    manufacturer: str | None
    model: str | None
    serialNumber: str | None
    latitude: float | None
    longitude: float | None
    properties: dict[str, str]


class ResourceFilters(TypedDict, total=False):
    places: list[str]
    things: list[str]


class ApiKeyCreate(TypedDict, total=False):
    name: Required[str]
    scopes: Required[list[str]]
    filters: ResourceFilters
    expiresAt: str | None


class IntegrationResource(TypedDict):
    externalId: str
    thingId: str


class IntegrationIn(TypedDict, total=False):
    """An integration (docs/integrations.md): ``credentials`` are write-only."""

    name: Required[str]
    provider: Required[str]
    templateId: Required[str]
    connection: dict[str, Any]
    credentials: dict[str, Any]
    enabled: bool
    resources: list[IntegrationResource]
    scheduleMinutes: int


class Frame(TypedDict):
    """One reading: event time in Unix epoch milliseconds (UTC), metric name -> scalar."""

    timestamp: int
    metrics: dict[str, Scalar]


class FramesIngest(TypedDict):
    frames: list[Frame]


class TemplateCreate(TypedDict, total=False):
    name: Required[str]
    target: Required[Literal["ThingData", "Transactions", "Integrations"]]
    format: Required[Literal["JsonPointer", "JavaScriptHandler", "Dbc"]]
    spec: Required[Json]
    description: str | None
    tags: list[str]


class TemplateUpdate(TypedDict, total=False):
    name: str | None
    description: str | None
    spec: Json | None
    tags: list[str] | None


# --- the dialects' operator side (platform API) ---


class BucketCreate(TypedDict, total=False):
    name: Required[str]
    description: str | None


class ValueSpec(TypedDict, total=False):
    type: Required[Literal["number", "integer", "boolean", "string"]]
    required: bool
    unit: str | None
    description: str | None


class DataSourceCreate(TypedDict, total=False):
    name: Required[str]
    schema: Required[dict[str, ValueSpec]]
    description: str | None


class DataStreamCreate(TypedDict, total=False):
    name: Required[str]
    description: str | None


class BuildingCreate(TypedDict, total=False):
    name: Required[str]
    address: str | None
    timezone: str | None
    latitude: float | None
    longitude: float | None


class RoomCreate(TypedDict, total=False):
    name: Required[str]
    floor: str | int | None
    description: str | None


class SensorCreate(TypedDict, total=False):
    name: Required[str]
    parameters: Required[list[str]]
    manufacturer: str | None
    model: str | None
    serialNumber: str | None
    measurement_frequency_seconds: int
    status: Literal["active", "maintenance", "retired"]


class SensorUpdate(TypedDict, total=False):
    name: str
    parameters: list[str]
    measurement_frequency_seconds: int
    status: Literal["active", "maintenance", "retired"]


# --- the dialects' ingestion bodies (shared/spec) ---


class DakkioPoint(TypedDict):
    dataSourceId: str
    values: dict[str, Scalar]
    timestamp: NotRequired[str]
    metadata: NotRequired[Json]


class DakkioPointIn(DakkioPoint):
    """The body of ``POST /api/data``: a point and its bucket (``dakkio_ingest`` adds it)."""

    bucketId: str


class CloudthreadItem(TypedDict):
    timestamp: str
    metric_name: str
    metric_value: float
    custom_dimensions: NotRequired[dict[str, str]]


class AmbiqualityReading(TypedDict):
    parameterCode: str
    value: float
    unit: str
