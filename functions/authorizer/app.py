"""Lambda REQUEST authorizer for the platform API: X-Api-Key -> organization, scopes, filters.

Unknown or missing key: raise ``Unauthorized`` (API Gateway answers 401 with the template's
UNAUTHORIZED gateway response). Known key: Allow on every route of the API, so the cached
policy (ReauthorizeEvery) serves all routes; the per-route scope check is done by the domain
from the context this returns. Tenancy: the context's orgId is the only organization a
handler ever uses.
"""

from __future__ import annotations

from typing import Any

import orjson
from aws_lambda_powertools import Logger
from telemetry.bootstrap import container
from telemetry.errors import Unauthenticated

logger = Logger()


def _header(event: dict[str, Any], name: str) -> str | None:
    for key, value in (event.get("headers") or {}).items():
        if key.lower() == name:
            return str(value)
    return None


def _api_wide_arn(method_arn: str) -> str:
    """arn:...:apiId/stage/METHOD/path -> arn:...:apiId/stage/*/*"""
    prefix, _, rest = method_arn.partition(":execute-api:")
    parts = rest.split("/")
    return f"{prefix}:execute-api:{parts[0]}/{parts[1]}/*/*" if len(parts) >= 2 else method_arn


@logger.inject_lambda_context(clear_state=True)
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    try:
        who = container().keys.authenticate(_header(event, "x-api-key"))
    except Unauthenticated:
        raise Exception("Unauthorized") from None
    logger.append_keys(org_id=who.org_id, key_id=who.key_id)
    return {
        "principalId": who.key_id,
        "policyDocument": {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Action": "execute-api:Invoke",
                    "Effect": "Allow",
                    "Resource": _api_wide_arn(event["methodArn"]),
                }
            ],
        },
        "context": {
            "orgId": who.org_id,
            "keyId": who.key_id,
            "scopes": ",".join(sorted(who.scopes)),
            "filters": orjson.dumps({"places": sorted(who.place_filter), "things": sorted(who.thing_filter)}).decode(),
        },
    }
