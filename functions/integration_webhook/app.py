"""POST /v2/integrations/{integrationId}/webhook: a provider's push, signed by the provider.

No API key (``Auth: Authorizer: NONE``): the signature, checked with the integration's own
``webhookSecret``, is the authentication. 202 once the pull step is queued; every refusal is a
problem+json (401 for any signature or identity problem, 413 over the size limit).
"""

from __future__ import annotations

from typing import Any

from telemetry.coldstart import cold_start
from aws_lambda_powertools.event_handler import Response
from telemetry.bootstrap import container
from telemetry.http.app import build_app, entrypoint, json_response, raw_body
from telemetry.limits import WEBHOOK_MAX_BODY_BYTES
from telemetry.models.integrations import WebhookAnswer

#: what this handler parses itself, and its own refusals, for the OpenAPI document (devstack.openapi)
OPENAPI: dict[str, Any] = {
    "refusals": {
        401: "a missing or wrong signature, or an unknown integration (never 404: integration ids are not disclosed)",
    },
}

app = build_app()


@app.post("/v2/integrations/<integrationId>/webhook")
def receive_webhook(integrationId: str) -> Response[str]:
    headers = dict(app.current_event.headers or {})
    accepted = container().integration_webhooks.receive(integrationId, headers, raw_body(app))
    return json_response(202, WebhookAnswer.model_validate(accepted.as_dict()))


lambda_handler = cold_start(entrypoint(app, max_body_bytes=WEBHOOK_MAX_BODY_BYTES))
