"""``telemetry-dev``: run the local stack, issue API keys (locally or against a deployed stack)."""

from __future__ import annotations

import argparse
import contextlib
import logging
import os
import signal
import sys
import threading
import tomllib
from collections.abc import Sequence
from pathlib import Path
from types import FrameType
from typing import Any

from .gateway.static import CONSOLE_DIR
from .lambdas import runtime_environment
from .stack import LocalStack, StackNotFoundError, default_state_dir, find_running_stack, find_template
from .template import Template

log = logging.getLogger("devstack.cli")


def _scopes(value: str | None) -> list[str] | None:
    if not value:
        return None
    return [s.strip() for s in value.split(",") if s.strip()]


def _overrides(items: Sequence[str]) -> dict[str, str]:
    out: dict[str, str] = {}
    for item in items:
        name, sep, value = item.partition("=")
        if not sep:
            raise SystemExit(f"--parameter-override expects Name=Value, got {item!r}")
        out[name] = value
    return out


def issue_key(
    org_name: str, scopes: list[str] | None, places: list[str] | None = None, things: list[str] | None = None
) -> Any:
    """Issue a key through the domain (imported late: it reads the environment set up here)."""
    from telemetry.bootstrap import bootstrap
    from telemetry.models.auth import ResourceFilters
    from telemetry.settings import Settings

    keys = bootstrap(Settings.from_env()).keys
    if places or things:
        return keys.issue(
            org_name=org_name, scopes=scopes, filters=ResourceFilters(places=places or [], things=things or [])
        )
    return keys.issue(org_name=org_name, scopes=scopes)


def example_path(template: Template) -> str | None:
    """A GET route without path parameters behind the authorizer, for the printed curl line:
    the metric definitions (a new user's first step) when the template has them."""
    candidates = sorted(
        r.path for r in template.api_routes() if r.method in ("GET", "ANY") and "{" not in r.path and r.authorizer
    )
    first_step = "/v2/definitions/metrics"
    return first_step if first_step in candidates else (candidates[0] if candidates else None)


# --------------------------------------------------------------------------- run


def cmd_run(args: argparse.Namespace) -> int:
    template_path = Path(args.template).resolve() if args.template else find_template()
    stack = LocalStack(
        template_path,
        parameters=_overrides(args.parameter_override),
        stack_name=args.stack_name or "telemetry-local",
        host=args.host,
        port=args.port,
        speedup=args.speedup,
        state_dir=default_state_dir(template_path),
    )
    stopping = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stopping.set()

    previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        with contextlib.ExitStack() as fakes:
            if args.fakes:
                from devstack.fakes import start_fakes

                running = fakes.enter_context(start_fakes(args.host))
                stack.banner.append("Provider fakes (docs/integrations.md, 'Local fakes'):")
                stack.banner.extend(f"  {name:<10} {url}" for name, url in running.urls.items())
            return _serve(stack, stopping)
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _serve(stack: LocalStack, stopping: threading.Event) -> int:
    try:
        stack.start()
    except OSError as exc:
        print(f"Cannot start the local stack: {exc}", file=sys.stderr)
        return 1
    try:
        url = stack.url
        print(f"Local stack listening on {url}", flush=True)
        print(f"Moto endpoint: {stack.endpoint_url}", flush=True)
        for line in stack.banner:
            print(line, flush=True)
        try:
            issued = issue_key("default", None)
        except Exception as exc:  # the domain may not be ready yet: keep the stack usable
            log.warning("could not issue the default API key: %r", exc)
            print("API key: unavailable (telemetry.bootstrap failed, see the log above)", flush=True)
        else:
            print(f"API key: {issued.key}", flush=True)
            if (CONSOLE_DIR / "index.html").is_file():
                print(f"Console: {url}/console/ (sign in with the API key above)", flush=True)
            path = example_path(stack.template) if stack.template else None
            if path:
                print(f'curl -s -H "X-Api-Key: {issued.key}" {url}{path}', flush=True)
        print("Press Ctrl-C to stop.", flush=True)
        while not stopping.wait(0.5):
            pass
        print("Stopping...", file=sys.stderr, flush=True)
    finally:
        stack.stop()
    return 0


# --------------------------------------------------------------------------- key


def _samconfig_stack_name(root: Path) -> str | None:
    try:
        data = tomllib.loads((root / "samconfig.toml").read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError):
        return None
    default = data.get("default") or {}
    for section in ("deploy", "global"):
        name = ((default.get(section) or {}).get("parameters") or {}).get("stack_name")
        if name:
            return str(name)
    return None


def deployed_environment(template: Template, outputs: dict[str, str]) -> dict[str, str]:
    """Map a deployed stack's Outputs onto the Globals env vars that ``!Ref`` the same resource."""
    env_spec = (((template.globals.get("Function") or {}).get("Environment") or {}).get("Variables")) or {}
    output_refs = {
        name: spec.get("Value", {}).get("Ref")
        for name, spec in (template.data.get("Outputs") or {}).items()
        if isinstance(spec.get("Value"), dict)
    }
    env: dict[str, str] = {}
    for var, value in env_spec.items():
        if isinstance(value, dict) and "Ref" in value:
            for out_name, ref in output_refs.items():
                if ref == value["Ref"] and out_name in outputs:
                    env[var] = outputs[out_name]
    return env


def cmd_key(args: argparse.Namespace) -> int:
    template_path = Path(args.template).resolve() if args.template else find_template()
    try:
        state = None if args.stack_name else find_running_stack(template_path, args.port)
    except StackNotFoundError as exc:
        print(f"{exc}; start one with `make run PORT=<port>`.", file=sys.stderr)
        return 2
    if state is not None:
        os.environ.update(runtime_environment(state["endpoint_url"]))
        os.environ.update(state.get("environment") or {})
        print(f"Using the local stack at {state['gateway_url']} (moto {state['endpoint_url']})", file=sys.stderr)
    else:
        import boto3

        session = boto3.session.Session()
        if session.get_credentials() is None:
            print(
                "No running local stack (.devstack/<port>/state.json) and no AWS credentials: start "
                "`telemetry-dev run` or configure AWS credentials.",
                file=sys.stderr,
            )
            return 2
        stack_name = args.stack_name or _samconfig_stack_name(template_path.parent)
        if not stack_name:
            print("No --stack-name given and none in samconfig.toml.", file=sys.stderr)
            return 2
        described = session.client("cloudformation").describe_stacks(StackName=stack_name)["Stacks"][0]
        outputs = {o["OutputKey"]: o["OutputValue"] for o in described.get("Outputs") or []}
        if "DefinitionsTableName" not in outputs:
            print(f"Stack {stack_name} has no DefinitionsTableName output.", file=sys.stderr)
            return 2
        template = Template.load(template_path)
        os.environ.update(deployed_environment(template, outputs))
        print(f"Using the deployed stack {stack_name} ({session.region_name})", file=sys.stderr)
    try:
        issued = issue_key(args.org, _scopes(args.scopes), _scopes(args.places), _scopes(args.things))
    except Exception as exc:  # domain validation (e.g. unknown scope) or AWS errors: no traceback
        print(f"Could not issue a key: {exc}", file=sys.stderr)
        return 1
    scopes = ",".join(issued.scopes) if issued.scopes else "all"
    print(f"Issued an API key for organization {args.org!r} (org id {issued.org_id}, scopes: {scopes}):")
    print(issued.key)
    return 0


# --------------------------------------------------------------------------- pull


def cmd_pull(args: argparse.Namespace) -> int:
    """Run one pull step of an integration now, in this process, against the running local stack.

    The step is the pull Lambda's own (lease, back-off, cursor, the readings queue); when more data
    waits, the next step goes on the stack's pull queue and the stack's pull function takes it.
    """
    template_path = Path(args.template).resolve() if args.template else find_template()
    try:
        state = find_running_stack(template_path, args.port)
    except StackNotFoundError as exc:
        print(f"{exc}; start one with `make run PORT=<port>`.", file=sys.stderr)
        return 2
    if state is None:
        print("No local stack runs; start one with `make run`.", file=sys.stderr)
        return 2
    os.environ.update(runtime_environment(state["endpoint_url"]))
    os.environ.update(state.get("environment") or {})
    import time

    from telemetry.bootstrap import container
    from telemetry.ports.integrations import PullStep

    container.cache_clear()
    root = container()
    org_id = root.integration_webhooks.directory.org_of(args.integration)
    if org_id is None:
        print(f"No integration {args.integration} on the stack at {state['gateway_url']}.", file=sys.stderr)
        return 1
    outcome = root.integration_pull.step(PullStep(org_id, args.integration, reason="manual"), int(time.time() * 1000))
    print(f"{args.integration}: {outcome.state} ({outcome.reason}), run {outcome.run_id or '-'}")
    if outcome.state == "running":
        print("More data waits: the next step is on the pull queue; the stack's pull function takes it.")
    return 0 if outcome.state in ("succeeded", "running", "skipped") else 1


# --------------------------------------------------------------------------- entry point


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="telemetry-dev", description=__doc__)
    parser.add_argument("--template", help="path to template.yaml (default: found from the cwd upwards)")
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = parser.add_subparsers(dest="command", required=True)

    run = sub.add_parser("run", help="start the local stack (moto, gateway, pollers, schedules)")
    run.add_argument(
        "--port", type=int, default=int(os.environ.get("PORT") or 3000), help="gateway port (default: $PORT or 3000)"
    )
    run.add_argument("--host", default="127.0.0.1")
    run.add_argument(
        "--no-fakes",
        dest="fakes",
        action="store_false",
        help="do not start the local Geotab, Zubie, UtilityAPI and http feed fakes",
    )
    run.add_argument("--speedup", type=float, default=1.0, help="divide schedule intervals by this factor")
    run.add_argument("--stack-name", default=None, help="prefix of generated resource names")
    run.add_argument(
        "--parameter-override",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="template parameter override (repeatable)",
    )
    run.set_defaults(func=cmd_run)

    key = sub.add_parser("key", help="issue an API key (local stack if running, else the deployed stack)")
    key.add_argument("--org", required=True, help="organization name")
    key.add_argument("--scopes", default=None, help="comma-separated scopes (default: all)")
    key.add_argument("--places", default=None, help="limit the key to these place ids (comma-separated)")
    key.add_argument("--things", default=None, help="limit the key to these thing ids (comma-separated)")
    key.add_argument(
        "--port",
        type=int,
        default=None,
        help="the local stack on this gateway port (default: $PORT, else the only one running)",
    )
    key.add_argument(
        "--stack-name", default=None, help="deployed stack (default: samconfig.toml); forces the deployed stack"
    )
    key.set_defaults(func=cmd_key)

    pull = sub.add_parser("pull", help="run one pull step of an integration now (local stack)")
    pull.add_argument("integration", help="the integration id (intg_...)")
    pull.add_argument(
        "--port",
        type=int,
        default=None,
        help="the local stack on this gateway port (default: $PORT, else the only one running)",
    )
    pull.set_defaults(func=cmd_pull)

    openapi = sub.add_parser("openapi", help="write the OpenAPI document generated from the handlers")
    openapi.add_argument("--out", default="shared/openapi.json", help="output file (default: shared/openapi.json)")
    openapi.set_defaults(func=cmd_openapi)

    from .sensors_cli import register as register_sensors

    register_sensors(sub)

    from .keys_cli import register as register_keys

    register_keys(sub)
    return parser


def cmd_openapi(args: argparse.Namespace) -> int:
    from .openapi import write

    template_path = Path(args.template).resolve() if args.template else find_template()
    os.environ.setdefault("DEFINITIONS_TABLE", "openapi")  # handlers validate settings on import
    write(template_path, Path(args.out))
    print(f"wrote {args.out}")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    if not args.verbose:
        for noisy in ("botocore", "boto3", "urllib3", "werkzeug"):
            logging.getLogger(noisy).setLevel(logging.WARNING)
    result: int = args.func(args)
    return result


if __name__ == "__main__":
    raise SystemExit(main())
