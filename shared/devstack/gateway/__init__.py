"""A local API Gateway (REST API, Lambda proxy payload 1.0) in front of the template's functions.

Routes, the Lambda authorizer and gateway responses come from the template. Behaviour follows
API Gateway's REST APIs where it is observable by a client or a handler:

* routing: literal segments beat ``{param}`` beats ``{proxy+}``; a trailing slash is ignored;
  unknown path or method -> ``MISSING_AUTHENTICATION_TOKEN`` (403 unless the template's gateway
  response says otherwise; ours: a 404 problem); requests may also carry the
  ``/<stage>`` prefix of the deployed URL;
* ``path`` and ``pathParameters`` stay percent-encoded, query parameters are decoded;
* REQUEST/TOKEN authorizers: identity sources must carry exactly one non-empty value or the answer is
  401 without calling the authorizer; ``Unauthorized`` -> 401; other errors and malformed
  results -> 500 ``AUTHORIZER_CONFIGURATION_ERROR``; the policy is evaluated against the
  methodArn (explicit Deny wins, no Allow -> 403); results are cached per identity value for
  ``ReauthorizeEvery`` seconds and a cached policy is re-evaluated against each new methodArn;
  context values reach the handler stringified, plus ``principalId`` and ``integrationLatency``;
* bodies over 10 MB -> 413 ``REQUEST_TOO_LARGE``; a handler exception or a malformed proxy
  result -> 502 ``{"message": "Internal server error"}`` (traceback to stderr only).
"""

from .app import LocalGateway
from .authorizer import AuthorizerCache, evaluate_policy, identity_values
from .messages import MAX_BODY_BYTES, IncomingRequest, OutgoingResponse
from .responses import DEFAULT_GATEWAY_RESPONSES, gateway_response
from .routing import CompiledRoute, Router

__all__ = [
    "DEFAULT_GATEWAY_RESPONSES",
    "MAX_BODY_BYTES",
    "AuthorizerCache",
    "CompiledRoute",
    "IncomingRequest",
    "LocalGateway",
    "OutgoingResponse",
    "Router",
    "evaluate_policy",
    "gateway_response",
    "identity_values",
]
