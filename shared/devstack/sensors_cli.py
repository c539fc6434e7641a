"""``telemetry-dev sensors ...``: the Ambiquality operator side from the command line.

Every command calls the HTTP API (the local stack or a deployed one) exactly as the operator
app would, with a platform API key (scopes ``sensors:read`` / ``sensors:write``):

    telemetry-dev sensors parameters
    telemetry-dev sensors buildings create --name "HQ" [--address ...] [--timezone ...]
    telemetry-dev sensors buildings list | get BUILDING_ID
    telemetry-dev sensors rooms create --building BUILDING_ID --name "Room 1" [--floor 2]
    telemetry-dev sensors rooms list --building BUILDING_ID | get ROOM_ID
    telemetry-dev sensors create --room ROOM_ID --name "Desk" --parameters co2,temperature [--frequency 300]
    telemetry-dev sensors list --room ROOM_ID | get SENSOR_ID
    telemetry-dev sensors update SENSOR_ID [--status maintenance] [--parameters ...] [--frequency 600]
    telemetry-dev sensors rotate-key SENSOR_ID
    telemetry-dev sensors send SENSOR_ID co2=812 temperature=21.4      (key: --key or $AMQ_SENSOR_KEY)

Base URL: ``--url``, else ``$TELEMETRY_URL``, else the running local stack (``$PORT``'s, or the only one; .devstack/<port>/state.json).
API key: ``--api-key``, else ``$TELEMETRY_API_KEY`` (``telemetry-dev key --org ...`` issues one).
Answers are printed as JSON; an error answer goes to stderr and the exit code is 1.

Hook into ``devstack/cli.py`` with ``from .sensors_cli import register`` and
``register(sub)`` in ``build_parser()`` after the other subcommands.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

from .stack import StackNotFoundError, find_running_stack, find_template


class CliError(Exception):
    pass


def base_url(args: argparse.Namespace) -> str:
    if args.url:
        return str(args.url).rstrip("/")
    if os.environ.get("TELEMETRY_URL"):
        return os.environ["TELEMETRY_URL"].rstrip("/")
    template = Path(args.template).resolve() if getattr(args, "template", None) else find_template()
    try:
        state = find_running_stack(template, None)
    except StackNotFoundError as exc:
        raise CliError(f"no --url and no $TELEMETRY_URL: {exc}") from None
    if state is None or "gateway_url" not in state:
        raise CliError("no --url, no $TELEMETRY_URL and no running local stack (telemetry-dev run)")
    return str(state["gateway_url"]).rstrip("/")


def api_key(args: argparse.Namespace) -> str:
    key = args.api_key or os.environ.get("TELEMETRY_API_KEY")
    if not key:
        raise CliError("an API key is required: --api-key or $TELEMETRY_API_KEY (telemetry-dev key --org NAME)")
    return str(key)


def request(method: str, url: str, headers: dict[str, str], body: Any = None) -> tuple[int, Any, dict[str, str]]:
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(url, data=data, method=method, headers={**headers, "Accept": "application/json"})
    if data is not None:
        req.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(req, timeout=30) as resp:
            status, text, got = resp.status, resp.read().decode(), dict(resp.headers)
    except urllib.error.HTTPError as err:
        status, text, got = err.code, err.read().decode(), dict(err.headers)
    except urllib.error.URLError as err:
        raise CliError(f"cannot reach {url}: {err.reason}") from None
    try:
        parsed = json.loads(text) if text else None
    except ValueError:
        parsed = text
    return status, parsed, got


def _print(status: int, body: Any, headers: dict[str, str]) -> int:
    ok = 200 <= status < 300
    stream = sys.stdout if ok else sys.stderr
    if not ok:
        retry = {k.lower(): v for k, v in headers.items()}.get("retry-after")
        print(f"HTTP {status}" + (f" (Retry-After: {retry}s)" if retry else ""), file=stream)
    print(json.dumps(body, indent=2, ensure_ascii=False), file=stream)
    return 0 if ok else 1


def _operator(method: str, path: str, body: Any = None) -> Any:
    def run(args: argparse.Namespace) -> int:
        url = base_url(args) + path.format(**vars(args))
        return _print(*request(method, url, {"X-Api-Key": api_key(args)}, body(args) if callable(body) else body))

    return run


def _codes(text: str) -> list[str]:
    return [c.strip() for c in text.split(",") if c.strip()]


def _sensor_body(args: argparse.Namespace) -> dict[str, Any]:
    body: dict[str, Any] = {}
    if getattr(args, "name", None) is not None:
        body["name"] = args.name
    if args.parameters is not None:
        body["parameters"] = _codes(args.parameters)
    if args.frequency is not None:
        body["measurement_frequency_seconds"] = args.frequency
    if args.status is not None:
        body["status"] = args.status
    return body


def _parameters(args: argparse.Namespace) -> int:
    return _print(*request("GET", base_url(args) + "/ingestion/v1/parameters", {}))


def _send(args: argparse.Namespace) -> int:
    """One batch, the units taken from the catalog: ``co2=812 temperature=21.4``."""
    key = args.key or os.environ.get("AMQ_SENSOR_KEY")
    if not key:
        raise CliError("a sensor key is required: --key or $AMQ_SENSOR_KEY")
    url = base_url(args)
    status, catalog, _ = request("GET", url + "/ingestion/v1/parameters", {})
    if status != 200:
        raise CliError(f"cannot read the parameter catalog (HTTP {status})")
    units = {p["code"]: p["unit"] for p in catalog["items"]}
    readings = []
    for item in args.readings:
        code, sep, value = item.partition("=")
        if not sep:
            raise CliError(f"expected code=value, got {item!r}")
        try:
            number: float | int = int(value) if value.lstrip("-").isdigit() else float(value)
        except ValueError:
            raise CliError(f"{code}: {value!r} is not a number") from None
        readings.append(
            {"parameterCode": code, "value": number, "unit": (args.unit or {}).get(code) or units.get(code, "")}
        )
    body = {"sensorId": args.sensor_id, "readings": readings}
    return _print(*request("POST", url + "/ingestion/v1/measurements", {"X-Sensor-Key": key}, body))


def exit_2_on_cli_error(func: Any) -> Any:
    def run(args: argparse.Namespace) -> int:
        try:
            result: int = func(args)
        except CliError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
        return result

    return run


class _UnitAction(argparse.Action):
    def __call__(self, parser: Any, namespace: Any, values: Any, option_string: str | None = None) -> None:
        code, _, unit = str(values).partition("=")
        setattr(namespace, self.dest, {**(getattr(namespace, self.dest) or {}), code: unit})


def register(subparsers: Any) -> None:
    """Add ``sensors`` (with its subcommands) to the ``telemetry-dev`` parser's subparsers."""
    top = subparsers.add_parser("sensors", help="Ambiquality buildings, rooms, sensors and measurements (HTTP API)")
    top.add_argument("--url", default=None, help="API base URL (default: $TELEMETRY_URL or the local stack)")
    top.add_argument("--api-key", default=None, help="platform API key (default: $TELEMETRY_API_KEY)")
    sub = top.add_subparsers(dest="sensors_command", required=True)

    def leaf(parent: Any, name: str, func: Any, help_text: str) -> argparse.ArgumentParser:
        parser: argparse.ArgumentParser = parent.add_parser(name, help=help_text)
        parser.set_defaults(func=exit_2_on_cli_error(func))
        return parser

    leaf(sub, "parameters", _parameters, "the parameter catalog (codes, units, ranges)")

    buildings = sub.add_parser("buildings", help="buildings").add_subparsers(dest="buildings_command", required=True)
    p = leaf(
        buildings,
        "create",
        _operator(
            "POST",
            "/v2/buildings",
            lambda a: {
                k: v for k, v in {"name": a.name, "address": a.address, "timezone": a.timezone}.items() if v is not None
            },
        ),
        "register a building",
    )
    p.add_argument("--name", required=True)
    p.add_argument("--address")
    p.add_argument("--timezone")
    leaf(buildings, "list", _operator("GET", "/v2/buildings"), "list buildings")
    leaf(buildings, "get", _operator("GET", "/v2/buildings/{building_id}"), "one building").add_argument("building_id")

    rooms = sub.add_parser("rooms", help="rooms").add_subparsers(dest="rooms_command", required=True)
    p = leaf(
        rooms,
        "create",
        _operator(
            "POST",
            "/v2/buildings/{building}/rooms",
            lambda a: {k: v for k, v in {"name": a.name, "floor": a.floor}.items() if v is not None},
        ),
        "add a room to a building",
    )
    p.add_argument("--building", required=True)
    p.add_argument("--name", required=True)
    p.add_argument("--floor")
    leaf(rooms, "list", _operator("GET", "/v2/buildings/{building}/rooms"), "a building's rooms").add_argument(
        "--building", required=True
    )
    leaf(rooms, "get", _operator("GET", "/v2/rooms/{room_id}"), "one room").add_argument("room_id")

    p = leaf(
        sub,
        "create",
        _operator("POST", "/v2/rooms/{room}/sensors", _sensor_body),
        "register a sensor (prints its secret key, once)",
    )
    p.add_argument("--room", required=True)
    p.add_argument("--name", required=True)
    p.add_argument("--parameters", required=True, help="comma-separated parameter codes, e.g. co2,temperature")
    p.add_argument("--frequency", type=int, default=None, help="measurement_frequency_seconds (>= 300)")
    p.add_argument("--status", choices=("active", "maintenance", "retired"), default=None)
    leaf(sub, "list", _operator("GET", "/v2/rooms/{room}/sensors"), "a room's sensors").add_argument(
        "--room", required=True
    )
    leaf(sub, "get", _operator("GET", "/v2/sensors/{sensor_id}"), "one sensor").add_argument("sensor_id")
    p = leaf(
        sub,
        "update",
        _operator("PATCH", "/v2/sensors/{sensor_id}", _sensor_body),
        "change status, parameters, interval or name",
    )
    p.add_argument("sensor_id")
    p.add_argument("--name")
    p.add_argument("--parameters", default=None)
    p.add_argument("--frequency", type=int, default=None)
    p.add_argument("--status", choices=("active", "maintenance", "retired"), default=None)
    leaf(
        sub,
        "rotate-key",
        _operator("POST", "/v2/sensors/{sensor_id}/rotate-key"),
        "new secret key (printed once); the old one stops working",
    ).add_argument("sensor_id")

    p = leaf(sub, "send", _send, "send one batch as the sensor: code=value ...")
    p.add_argument("sensor_id")
    p.add_argument("readings", nargs="+", metavar="CODE=VALUE")
    p.add_argument("--key", default=None, help="the sensor's secret key (default: $AMQ_SENSOR_KEY)")
    p.add_argument(
        "--unit",
        action=_UnitAction,
        default=None,
        metavar="CODE=UNIT",
        help="override a unit (default: the catalog's canonical unit)",
    )
