"""The Ambiquality "sensor measurements" dialect: parameter catalog, buildings, rooms, sensors.

The catalog is the document's missing "Parameters & units" page (docs/ambiquality.md): one
canonical unit per parameter, compared to the reading's ``unit`` as an exact string, and an
inclusive permitted range in that unit. Every value is a JSON number stored as a platform
``Double`` metric.

Wire names follow the document: camelCase, except ``measurement_frequency_seconds``, which the
document spells that way and device operators will search for.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Annotated, Any

from pydantic import BeforeValidator, Field, field_validator

from telemetry.models.base import Answer, ApiModel, OutModel, json_int, with_examples

#: The document: "floored at 5 minutes". A lower value is refused (400), never silently raised.
MIN_FREQUENCY_SECONDS = 300
#: One day: a sensor that reports less often than daily is better modelled as a manual upload.
MAX_FREQUENCY_SECONDS = 86_400
SENSOR_KEY_PREFIX = "amq_sk_"
#: Platform metric names of the catalog are ``amq.<code>`` so they never clash with an
#: organization's own metric names (which are unique per organization).
METRIC_NAME_PREFIX = "amq."


@dataclass(frozen=True, slots=True)
class Parameter:
    """One row of the catalog."""

    code: str
    name: str
    unit: str
    min: float
    max: float
    description: str

    def as_dict(self) -> dict[str, Any]:
        return {
            "code": self.code,
            "name": self.name,
            "unit": self.unit,
            "dataType": "number",
            "range": {"min": self.min, "max": self.max},
            "metricName": METRIC_NAME_PREFIX + self.code,
            "description": self.description,
        }


#: The catalog. Units are exact strings: "°C" is U+00B0 U+0043, "µg/m³" is U+00B5 ... U+00B3.
CATALOG: tuple[Parameter, ...] = (
    Parameter("co2", "Carbon dioxide", "ppm", 0, 10_000, "CO2 concentration by volume (NDIR sensors: 0-10000 ppm)."),
    Parameter("temperature", "Air temperature", "°C", -50, 100, "Air temperature in degrees Celsius."),
    Parameter("humidity", "Relative humidity", "%", 0, 100, "Relative humidity of the air, 0-100 %."),
    Parameter("pm2_5", "Particulate matter PM2.5", "µg/m³", 0, 1_000, "Mass concentration of particles <= 2.5 µm."),
    Parameter("pm10", "Particulate matter PM10", "µg/m³", 0, 1_000, "Mass concentration of particles <= 10 µm."),
    Parameter(
        "voc",
        "Total volatile organic compounds",
        "ppb",
        0,
        60_000,
        "TVOC as reported by MOx sensors (SGP30, CCS811, ENS160) in parts per billion; no conversion to "
        "µg/m³ is made because that needs the mixture's molar mass, which a sensor does not know.",
    ),
    Parameter("noise", "Sound level", "dB(A)", 0, 140, "A-weighted sound pressure level in decibels."),
    Parameter("pressure", "Barometric pressure", "hPa", 300, 1_100, "Absolute air pressure in hectopascals."),
)
PARAMETERS: dict[str, Parameter] = {p.code: p for p in CATALOG}
#: a reporting interval in seconds (bounds before the validator: after it, pydantic documents them
#: as unknown keywords, not as JSON Schema's minimum/maximum)
Frequency = Annotated[int, Field(ge=MIN_FREQUENCY_SECONDS, le=MAX_FREQUENCY_SECONDS), BeforeValidator(json_int)]
#: what _check_codes enforces, in the JSON schema: catalog codes, each once
_CODES_SCHEMA: dict[str, Any] = {"items": {"type": "string", "enum": list(PARAMETERS)}, "uniqueItems": True}


class SensorStatus(StrEnum):
    active = "active"
    maintenance = "maintenance"
    retired = "retired"


def _check_codes(codes: list[str]) -> list[str]:
    unknown = [c for c in codes if c not in PARAMETERS]
    if unknown:
        raise ValueError(f"unknown parameter code(s) {', '.join(unknown)}; the catalog has {', '.join(PARAMETERS)}")
    if len(set(codes)) != len(codes):
        raise ValueError("parameter codes must be unique")
    return codes


# ---------------------------------------------------------------- operator input
class BuildingCreate(ApiModel):
    name: str = Field(min_length=1, max_length=256)
    address: str | None = Field(default=None, max_length=512)
    timezone: str | None = Field(default=None, max_length=64)
    latitude: float | None = Field(default=None, ge=-90, le=90, strict=True)
    longitude: float | None = Field(default=None, ge=-180, le=180, strict=True)

    model_config = with_examples({"name": "HQ", "address": "1 Main St", "timezone": "Europe/Amsterdam"})


class RoomCreate(ApiModel):
    name: str = Field(min_length=1, max_length=256)
    floor: str | None = Field(default=None, max_length=32)
    description: str | None = Field(default=None, max_length=2048)

    model_config = with_examples({"name": "Meeting room 2", "floor": "2"})


class SensorCreate(ApiModel):
    name: str = Field(min_length=1, max_length=256)
    parameters: list[str] = Field(min_length=1, max_length=len(CATALOG), json_schema_extra=_CODES_SCHEMA)
    measurement_frequency_seconds: Frequency = MIN_FREQUENCY_SECONDS
    status: SensorStatus = SensorStatus.active
    manufacturer: str | None = Field(default=None, max_length=256)
    model: str | None = Field(default=None, max_length=256)
    serialNumber: str | None = Field(default=None, max_length=256)

    @field_validator("parameters")
    @classmethod
    def _codes(cls, codes: list[str]) -> list[str]:
        return _check_codes(codes)

    model_config = with_examples(
        {"name": "Room 2 CO2", "parameters": ["co2", "temperature"], "measurement_frequency_seconds": 300}
    )


class SensorUpdate(ApiModel):
    """PATCH: every field optional; an absent field is unchanged."""

    name: str | None = Field(default=None, min_length=1, max_length=256)
    parameters: list[str] | None = Field(
        default=None, min_length=1, max_length=len(CATALOG), json_schema_extra=_CODES_SCHEMA
    )
    measurement_frequency_seconds: Frequency | None = None
    status: SensorStatus | None = None

    model_config = with_examples({"status": "maintenance"}, {"parameters": ["co2", "temperature", "humidity"]})

    @field_validator("parameters")
    @classmethod
    def _codes(cls, codes: list[str] | None) -> list[str] | None:
        return None if codes is None else _check_codes(codes)


# ---------------------------------------------------------------- stored / answered
class Building(OutModel):
    id: str
    name: str
    address: str | None = None
    timezone: str | None = None
    latitude: float | None = None
    longitude: float | None = None
    #: the platform site that backs the building (its sensors are things of this site)
    placeId: str
    createdAt: str


class Room(OutModel):
    id: str
    buildingId: str
    name: str
    floor: str | None = None
    description: str | None = None
    placeId: str
    createdAt: str


class Sensor(OutModel):
    """What the operator API answers. Never the key or its hash, only a short prefix."""

    id: str
    sensorId: str
    name: str
    roomId: str
    buildingId: str
    parameters: list[str]
    measurement_frequency_seconds: int
    status: SensorStatus
    manufacturer: str | None = None
    model: str | None = None
    serialNumber: str | None = None
    #: the platform thing that backs the sensor: GET /v2/things/{thingId}/latest-event etc.
    thingId: str
    keyPrefix: str
    keyRotatedAt: str
    createdAt: str
    updatedAt: str


class SensorRecord(Sensor):
    """The stored sensor: the public fields plus what ingestion needs without another read."""

    orgId: str
    placeId: str
    keyHash: str
    #: parameter code -> platform metric id (the measure names of the thing's readings)
    metricIds: dict[str, str]

    def public(self) -> Sensor:
        return Sensor.model_validate(self.model_dump(include=set(Sensor.model_fields)))


class SensorWithKey(Sensor):
    """The answer to create and rotate-key: the only time the secret key is ever shown."""

    secretKey: str


class ParameterCatalog(OutModel):
    """Per organization: the platform metric and thing type behind the catalog."""

    thingTypeId: str
    thingTypeVersionId: str
    metricIds: dict[str, str]


# --------------------------------------------------------------------------- answers (docs/ambiquality.md)


class ParameterRange(Answer):
    min: float
    max: float


class ParameterAnswer(Answer):
    """One catalog row as ``GET /ingestion/v1/parameters`` lists it."""

    code: str
    name: str
    unit: str
    dataType: str
    range: ParameterRange
    metricName: str
    description: str


class ParameterList(Answer):
    """``GET /ingestion/v1/parameters``: the catalog."""

    items: list[ParameterAnswer]


class AcceptedMeasurement(Answer):
    id: str
    parameterCode: str


class MeasurementsAccepted(Answer):
    """``POST /ingestion/v1/measurements`` (202): the ids given to the batch's readings, in order."""

    sensorId: str
    receivedAt: str
    measurements: list[AcceptedMeasurement]
