"""Names vulture cannot see being used (`make lint` runs vulture with this file).

Everything here is used, but not by a Python call that vulture can follow:
"""

# pydantic and dataclass fields that are read only when a model is serialized (the API's bodies)
_.createdAt, _.updatedAt, _.revokedAt, _.firstSeen, _.keyPrefix, _.keyRotatedAt, _.secretKey
_.unitLabel, _.thingName, _.thingDescription, _.versionId, _.placeKind
_.model_config  # pydantic's configuration hook
# enum members that arrive in request bodies and are compared by value, never by name
_.iso8601, _.epoch_s, _.epoch_ms, _.floor, _.retired, _.maintenance, _.Average, _.SENSOR, _.DATAPOINT
# settings fields: parsed from the environment, read with Settings.required(<name>, ...)
_.definitions_table, _.readings_table, _.readings_queue_url, _.timestream_database, _.timestream_table
# powertools reads this attribute of the resolver (our JSON-only body validation)
_._request_validation_middleware
# pytest: a class named Test* in the domain that is not a test
_.__test__
# type aliases used by the tests' fakes and the Timestream adapter's documentation of old rows
_.SeriesKey, _.LEGACY_MEASURE_NAME
_.issue  # KeyService.issue: the local stack's `make key` (shared/devstack, outside vulture's paths) and the tests
_.OPENAPI  # a handler's OpenAPI fragment: read by shared/devstack/openapi.py (outside vulture's paths)
