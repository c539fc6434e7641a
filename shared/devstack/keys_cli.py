"""``telemetry-dev keys ...``: manage platform API keys through ``/v2/api-keys`` over HTTP.

    telemetry-dev keys list
    telemetry-dev keys create --name ci --scopes metrics:read[,...] [--places ...] [--things ...]
                              [--expires-at 2030-01-01T00:00:00Z]
    telemetry-dev keys revoke KEY_ID

Unlike ``telemetry-dev key`` (which writes a key into the store directly, to bootstrap an
organization), these verbs act as a client of the API with an existing key (``--api-key`` or
``$TELEMETRY_API_KEY``, scopes ``api-keys:read`` / ``api-keys:write``), so the API's rules hold:
no key can create a key with more than its own scopes, filters or lifetime.

Base URL: ``--url``, else ``$TELEMETRY_URL``, else the running local stack (.devstack/state.json).
Answers are printed as JSON (``create`` prints the secret, shown only once); an error answer goes
to stderr and the exit code is 1.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any
from urllib.parse import quote, urlencode

from .sensors_cli import api_key, base_url, exit_2_on_cli_error, request


def _list(values: str | None) -> list[str]:
    return [v.strip() for v in (values or "").split(",") if v.strip()]


def _show(status: int, body: Any) -> int:
    ok = 200 <= status < 300
    stream = sys.stdout if ok else sys.stderr
    if not ok:
        print(f"HTTP {status}", file=stream)
    if body is not None:
        print(json.dumps(body, indent=2, ensure_ascii=False), file=stream)
    return 0 if ok else 1


def _call(args: argparse.Namespace, method: str, path: str, body: Any = None) -> tuple[int, Any]:
    status, parsed, _ = request(method, base_url(args) + path, {"X-Api-Key": api_key(args)}, body)
    return status, parsed


def keys_list(args: argparse.Namespace) -> int:
    """Every page, as one JSON array."""
    items: list[Any] = []
    token: str | None = None
    while True:
        query = {"pageLimit": 500} | ({"continuationToken": token} if token else {})
        status, page = _call(args, "GET", "/v2/api-keys?" + urlencode(query))
        if status != 200:
            return _show(status, page)
        items += page["items"]
        token = page.get("continuationToken")
        if not token:
            return _show(200, items)


def keys_create(args: argparse.Namespace) -> int:
    body: dict[str, Any] = {"name": args.name, "scopes": _list(args.scopes)}
    if args.places or args.things:
        body["filters"] = {"places": _list(args.places), "things": _list(args.things)}
    if args.expires_at:
        body["expiresAt"] = args.expires_at
    return _show(*_call(args, "POST", "/v2/api-keys", body))


def keys_revoke(args: argparse.Namespace) -> int:
    status, body = _call(args, "DELETE", f"/v2/api-keys/{quote(args.key_id, safe='')}")
    if status == 204:
        print(f"revoked {args.key_id}")
        return 0
    return _show(status, body)


def register(subparsers: Any) -> None:
    """Add ``keys list|create|revoke`` to the ``telemetry-dev`` parser's subparsers."""
    top = subparsers.add_parser("keys", help="list, create and revoke API keys (HTTP API, /v2/api-keys)")
    top.add_argument("--url", default=None, help="API base URL (default: $TELEMETRY_URL or the local stack)")
    top.add_argument("--api-key", default=None, help="an API key with api-keys scopes (default: $TELEMETRY_API_KEY)")
    sub = top.add_subparsers(dest="keys_command", required=True)

    sub.add_parser("list", help="list the organization's keys (no secrets)").set_defaults(
        func=exit_2_on_cli_error(keys_list)
    )

    create = sub.add_parser("create", help="create a key (its secret is printed once)")
    create.add_argument("--name", required=True)
    create.add_argument("--scopes", required=True, help="comma-separated scopes ('*' for all)")
    create.add_argument("--places", default=None, help="limit the key to these place ids (comma-separated)")
    create.add_argument("--things", default=None, help="limit the key to these thing ids (comma-separated)")
    create.add_argument("--expires-at", default=None, help="ISO 8601 with offset, e.g. 2030-01-01T00:00:00Z")
    create.set_defaults(func=exit_2_on_cli_error(keys_create))

    revoke = sub.add_parser("revoke", help="revoke a key (refused everywhere within 60 s)")
    revoke.add_argument("key_id")
    revoke.set_defaults(func=exit_2_on_cli_error(keys_revoke))
