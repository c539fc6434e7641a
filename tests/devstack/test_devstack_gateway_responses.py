"""The template's gateway responses are problem+json, and the local gateway answers with them.

API Gateway answers an unknown path or method with ``MISSING_AUTHENTICATION_TOKEN`` (by default
403 ``{"message":"Missing Authentication Token"}``); the template overrides it as a 404
problem, and every other gateway-made refusal falls back to a problem+json DEFAULT_4XX/5XX.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from devstack.gateway import IncomingRequest, LocalGateway
from devstack.template import Template

from tests import status_audit
from tests.devstack.conftest import REPO_TEMPLATE

PROBLEM = "application/problem+json"


@pytest.fixture(scope="module")
def template() -> Template:
    return Template.load(REPO_TEMPLATE, stack_name="t")


@pytest.fixture(scope="module")
def gateway(template: Template) -> LocalGateway:
    return LocalGateway(template, {})  # no function loaded: only the gateway's own answers


def _handle(gateway: LocalGateway, method: str, path: str, **headers: str) -> tuple[int, str | None, Any]:
    response = gateway.handle(IncomingRequest(method, path, "", list(headers.items()), b""))
    return response.status, response.header("Content-Type"), json.loads(response.body)


@pytest.mark.parametrize(
    ("method", "path"),
    [("GET", "/nowhere"), ("GET", "/v2/nowhere/deeper"), ("DELETE", "/v2/sites"), ("PUT", "/v2/definitions/metrics")],
)
def test_unknown_route_or_method_is_a_404_problem(gateway: LocalGateway, method: str, path: str) -> None:
    status, content_type, body = _handle(gateway, method, path)
    assert (status, content_type) == (404, PROBLEM)
    assert body["type"] == "urn:telemetry:problem:not-found" and body["status"] == 404 and body["title"]


def test_gateway_failures_fall_back_to_a_default_5xx_problem(gateway: LocalGateway) -> None:
    # the authorizer function is not loaded: AUTHORIZER_CONFIGURATION_ERROR, which only DEFAULT_5XX covers
    with status_audit.RECORDER.unrecorded():  # a broken deployment on purpose, not a documented answer
        status, content_type, body = _handle(gateway, "GET", "/v2/sites", **{"X-Api-Key": "k"})
    assert (status, content_type) == (500, PROBLEM)
    assert body["type"] == "urn:telemetry:problem:internal-error" and "requestId" in body


@pytest.mark.parametrize(
    ("rtype", "status"),
    [
        ("MISSING_AUTHENTICATION_TOKEN", 404),
        ("THROTTLED", 429),
        ("INTEGRATION_TIMEOUT", 504),
        ("UNAUTHORIZED", 401),
        ("ACCESS_DENIED", 403),
        ("REQUEST_TOO_LARGE", 413),
        ("DEFAULT_4XX", None),
        ("DEFAULT_5XX", None),
    ],
)
def test_the_template_defines_each_gateway_response_as_problem_json(
    template: Template, rtype: str, status: int | None
) -> None:
    """Also what AWS answers: the same GatewayResponses are deployed with the API."""
    spec = template.gateway_responses()[rtype]
    assert spec.headers["Content-Type"] == f"'{PROBLEM}'"
    # A status on DEFAULT_4XX/5XX would re-status every response that falls back to it.
    assert spec.status_code == status
    body = json.loads(spec.templates["application/json"].replace("$context.error.messageString", '"m"'))
    assert body["type"].startswith("urn:telemetry:problem:") and body["title"]
    assert body.get("status") == status
