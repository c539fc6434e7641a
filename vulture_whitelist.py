"""Names vulture cannot see being used (`make lint` runs vulture with this file).

Everything here is used, but not by a Python call that vulture can follow:
"""

# pydantic and dataclass fields that are read only when a model is serialized (the API's bodies)
_.createdAt, _.updatedAt, _.revokedAt, _.firstSeen, _.keyPrefix, _.keyRotatedAt, _.secretKey
_.unitLabel, _.thingName, _.thingDescription, _.versionId, _.placeKind, _.intervalMs
_.parameterCode, _.receivedAt, _.metricAggFunc, _.recordsPushed
_.dataPoint, _.dataPoints, _.dataSourceId, _.startTime, _.endTime, _.hasMore, _.seriesMatched  # bucket/stream answers
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
# integrations (issue 9), intg-conn: the connectors and webhook verifiers the pull step (intg-pull)
# imports, and the ports main added for intg-core / intg-pull; drop these once they are imported
_.connector_for, _.pull, _.verify_webhook, _.replay_token
_.SecretStore, _.PullScheduler, _.PullQueue, _.upsert, _.arn, _.enabled, _.every_minutes, _.integration_id
_.run_id, _.pushed
# integrations (intg-core): API body fields (serialized), provider/health/run-state enum members
# (compared by value), connection fields (validated, read by the connectors), the settings of the
# pull queue and schedules, the pull step's side of the repository (state CAS, lease, runs), and the
# ports' names that the pull step and connectors (other branches) use
_.credentialsSet, _.lastRunAt, _.lastSuccessAt, _.lastError, _.backoffUntil, _.consecutiveFailures
_.runId, _.queuedAt, _.startedAt, _.finishedAt
_.geotab, _.zubie, _.utilityapi, _.http, _.backing_off, _.needs_attention, _.failing
_.running, _.succeeded, _.skipped
_.server, _.feeds, _.resultsLimit, _.baseUrl, _.tokenUrl, _.url, _.cursorParam, _.nextCursorPointer, _.recordType
_.pull_queue_url, _.pull_queue_arn, _.scheduler_group, _.scheduler_role_arn
_.save_state, _.cursor_rev, _.take_lease, _.release_lease, _.get_run
_.PROVIDERS, _.record_type, _.external_ids, _.calls, _.pushed, _.pull, _.Connector
_.ProviderThrottled, _.ProviderAuthFailed, _.ProviderUnavailable, _.EgressRefused
_.OPENAPI  # a handler's OpenAPI fragment: read by shared/devstack/openapi.py (outside vulture's paths)
# botocore_data: overrides botocore's Loader/JSONFileLoader call (botocore is outside vulture's paths)
_.load_file, _.load_service_model
