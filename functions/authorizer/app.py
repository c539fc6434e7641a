"""Lambda REQUEST authorizer for the platform API: X-Api-Key -> organization, scopes, filters.

Unknown, revoked, expired, missing or repeated key: raise ``Unauthorized`` (API Gateway answers 401 with the template's
UNAUTHORIZED gateway response). Known key: Allow on every route of the API, so the cached
policy (ReauthorizeEvery) serves all routes; the per-route scope check is done by the domain
from the context this returns. Tenancy: the context's orgId is the only organization a
handler ever uses.
"""

from __future__ import annotations

from typing import Any

import orjson
from telemetry.coldstart import cold_start
from aws_lambda_powertools import Logger
from telemetry.bootstrap import container
from telemetry.errors import Unauthenticated

logger = Logger()


def _header(event: dict[str, Any], name: str) -> str | None:
    """The one value of header ``name``; more than one value (``X-Api-Key`` and ``x-api-key``, or
    a repeated header) is refused, since the gateway caches by one of them and the handler could
    see another."""
    values = [str(v) for k, vs in (event.get("multiValueHeaders") or {}).items() if k.lower() == name for v in vs or []]
    singles = [str(v) for k, v in (event.get("headers") or {}).items() if k.lower() == name]
    if len(values) > 1 or len(singles) > 1:
        raise Unauthenticated("send exactly one API key")
    found = values or singles
    return found[0] if found else None


def _api_wide_arn(method_arn: str) -> str:
    """arn:...:apiId/stage/METHOD/path -> arn:...:apiId/stage/*/*"""
    prefix, _, rest = method_arn.partition(":execute-api:")
    parts = rest.split("/")
    return f"{prefix}:execute-api:{parts[0]}/{parts[1]}/*/*" if len(parts) >= 2 else method_arn


@cold_start
@logger.inject_lambda_context(clear_state=True)
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    try:
        who = container().authenticator.authenticate(_header(event, "x-api-key"))
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
            # checked again by every handler: a cached result must not outlive the key
            "expiresAt": "" if who.expires_at_ms is None else str(who.expires_at_ms),
        },
    }
