"""Key management (issue 8.9) over HTTP against the local stack, and the `telemetry-dev keys` verbs."""

from __future__ import annotations

import json
from typing import Any

import pytest
import requests
from devstack.cli import main

pytestmark = pytest.mark.e2e


def call(stack: Any, method: str, path: str, key: str, body: Any = None) -> requests.Response:
    return requests.request(method, stack.url + path, json=body, headers={"X-Api-Key": key}, timeout=10)


def test_create_list_get_revoke_over_http(local_stack: Any, api_key: str) -> None:
    made = call(local_stack, "POST", "/v2/api-keys", api_key, {"name": "e2e", "scopes": ["places:read"]})
    assert made.status_code == 201, made.text
    created = made.json()
    assert created["key"].startswith("avy_") and "keyHash" not in created
    secret, key_id = created["key"], created["id"]
    assert call(local_stack, "GET", "/v2/sites", secret).status_code == 200

    listed = call(local_stack, "GET", "/v2/api-keys?pageLimit=500", api_key)
    assert listed.status_code == 200
    assert key_id in [i["id"] for i in listed.json()["items"]]
    assert secret not in listed.text and "keyHash" not in listed.text

    got = call(local_stack, "GET", f"/v2/api-keys/{key_id}", api_key)
    assert (got.status_code, got.json()["name"], got.json()["revoked"]) == (200, "e2e", False)

    revoked = call(local_stack, "DELETE", f"/v2/api-keys/{key_id}", api_key)
    assert (revoked.status_code, revoked.text) == (204, "")
    assert call(local_stack, "GET", "/api/data", secret).status_code == 401  # checked per request
    local_stack.gateway.cache.clear()  # what the 60 s authorizer cache TTL does on its own
    refused = call(local_stack, "GET", "/v2/sites", secret)
    assert refused.status_code == 401
    assert refused.headers["Content-Type"] == "application/problem+json"


def test_cli_keys_create_list_revoke(local_stack: Any, api_key: str, capsys: pytest.CaptureFixture[str]) -> None:
    base = ["keys", "--url", local_stack.url, "--api-key", api_key]
    assert (
        main([*base, "create", "--name", "cli", "--scopes", "metrics:read", "--expires-at", "2099-01-01T00:00:00Z"])
        == 0
    )
    created = json.loads(capsys.readouterr().out)
    assert created["key"].startswith("avy_") and created["expiresAt"] == "2099-01-01T00:00:00Z"

    assert main([*base, "list"]) == 0
    listed = json.loads(capsys.readouterr().out)
    assert created["id"] in [k["id"] for k in listed] and all("key" not in k for k in listed)

    assert main([*base, "revoke", created["id"]]) == 0
    assert created["id"] in capsys.readouterr().out
    local_stack.gateway.cache.clear()
    assert call(local_stack, "GET", "/v2/definitions/metrics", created["key"]).status_code == 401

    # the revoked key is refused outright; an escalation is the API's 403; both exit 1
    revoked = ["keys", "--url", local_stack.url, "--api-key", created["key"]]
    assert main([*revoked, "list"]) == 1
    assert "HTTP 401" in capsys.readouterr().err
    assert main([*base, "create", "--name", "w", "--scopes", "api-keys:write,metrics:read"]) == 0
    writer = json.loads(capsys.readouterr().out)["key"]
    weak = ["keys", "--url", local_stack.url, "--api-key", writer]
    assert main([*weak, "create", "--name", "x", "--scopes", "*"]) == 1
    assert "HTTP 403" in capsys.readouterr().err
