"""``telemetry``: the platform from the command line, on the public API.

    telemetry [--url URL] [--key KEY] COMMAND …      (or $TELEMETRY_URL, $TELEMETRY_API_KEY)

    send --thing ID [FILE|-]          frames ({"frames": [...]} or [...]) from a file or stdin
    backfill FILE --thing ID          CSV / JSON Lines / Parquet, wide or long, resumable
    simulate --things N --rate R      realistic signals from N things
    tail THING                        print new readings as they arrive
    things | templates list | templates test ID FILE | keys [list|create|revoke]

Exit codes: 0 done, 1 the API refused (the problem is printed to stderr), 2 bad usage,
130 interrupted (a backfill resumes where it stopped when run again).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from . import limits
from ._core import DEFAULT_URL
from .client import Client
from .errors import ApiError, ClientError
from .readers import ReaderError

err = Console(stderr=True, highlight=False)


class UsageError(Exception):
    """Bad usage: exit 2 with the message."""


def _print_json(value: Any) -> None:
    sys.stdout.write(json.dumps(value, indent=2, ensure_ascii=False) + "\n")
    sys.stdout.flush()


def _client(args: argparse.Namespace) -> Client:
    url = args.url or os.environ.get("TELEMETRY_URL") or DEFAULT_URL
    key = args.key or os.environ.get("TELEMETRY_API_KEY")
    if not key:
        raise UsageError("no API key: pass --key or set TELEMETRY_API_KEY (`make key` prints one for `make run`)")
    return Client(url, key, timeout=args.timeout)


def _load_json(source: str) -> Any:
    try:
        text = sys.stdin.read() if source == "-" else Path(source).read_text(encoding="utf-8")
    except OSError as exc:
        raise UsageError(f"cannot read {source}: {exc.strerror}") from None
    try:
        return json.loads(text)
    except ValueError as exc:
        raise UsageError(f"{'stdin' if source == '-' else source} is not JSON: {exc}") from None


def _out() -> Console:
    """stdout; piped or captured, wide enough that ids are never wrapped."""
    return Console() if sys.stdout.isatty() else Console(width=250)


# --- commands ---


def cmd_send(args: argparse.Namespace) -> int:
    body = _load_json(args.file)
    frames = body.get("frames") if isinstance(body, dict) else body
    if not isinstance(frames, list):
        raise UsageError('expected {"frames": [...]} or a JSON array of frames')
    with _client(args) as client:
        _print_json(client.send_frames(args.thing, frames))
    return 0


def cmd_backfill(args: argparse.Namespace) -> int:
    from rich.progress import (
        BarColumn,
        DownloadColumn,
        Progress,
        TextColumn,
        TimeRemainingColumn,
        TransferSpeedColumn,
    )

    from .backfill import Ack, Options, Summary, run

    path = Path(args.file)
    if not path.is_file():
        raise UsageError(f"{path}: no such file")
    options = Options(
        path=path,
        thing=args.thing,
        fmt=args.format,
        layout=args.layout,
        timestamp_column=args.timestamp_column,
        chunk_size=args.chunk_size,
        concurrency=args.concurrency,
        checkpoint=Path(args.checkpoint) if args.checkpoint else None,
        rejects=Path(args.rejects) if args.rejects else None,
        restart=args.restart,
    )
    started = time.monotonic()
    sent_this_run = 0
    progress = Progress(
        TextColumn("[bold]backfill"),
        BarColumn(),
        TextColumn(
            "{task.fields[rows]:,} rows · {task.fields[readings]:,} readings · {task.fields[refused]:,} refused"
        ),
        TextColumn("{task.fields[rate]:,.0f} rows/s"),
        DownloadColumn(),
        TransferSpeedColumn(),
        TimeRemainingColumn(),
        console=err,
        disable=args.no_progress,
    )
    task = progress.add_task("backfill", total=path.stat().st_size, rows=0, readings=0, refused=0, rate=0.0)

    def on_ack(ack: Ack, summary: Summary) -> None:
        nonlocal sent_this_run
        sent_this_run += ack.read
        rate = sent_this_run / max(1e-6, time.monotonic() - started)
        progress.update(
            task,
            advance=ack.bytes,
            rows=summary.rowsRead,
            readings=summary.readingsAccepted,
            refused=summary.rowsRefused,
            rate=rate,
        )
        if args.stop_after and summary.chunksSent >= args.stop_after:
            raise KeyboardInterrupt  # as if Ctrl-C came right after this chunk (tests, demos)

    with _client(args) as client, progress:
        summary = run(client, options, on_ack=on_ack, on_resume=lambda done: progress.update(task, advance=done))
    _print_json(_summary_json(summary))
    _print_summary(summary)
    if summary.error:
        return 1
    return 130 if summary.interrupted else 0


def _summary_json(summary: Any) -> dict[str, Any]:
    from dataclasses import asdict

    return asdict(summary)


def _print_summary(summary: Any) -> None:
    state = (
        "complete"
        if summary.complete
        else "interrupted: run the same command again to resume"
        if summary.interrupted
        else "stopped"
    )
    err.print(
        f"[bold]{state}[/]: {summary.rowsRead:,} rows read, {summary.readingsAccepted:,} readings accepted "
        f"({summary.framesAccepted:,} frames), {summary.rowsRefused:,} rows refused"
        + (f" (reasons in {summary.rejects})" if summary.rowsRefused else "")
        + f"; {summary.chunksSent} chunks sent, {summary.chunksSkipped} already done"
    )
    if summary.error:
        err.print(f"[red]error[/]: {summary.error}")


def cmd_simulate(args: argparse.Namespace) -> int:
    from .simulate import ensure_things, simulate, summary_line

    with _client(args) as client:
        things = args.thing or ensure_things(client, args.things, args.site)
        err.print(f"simulating {len(things)} things at {args.rate}/s each (seed {args.seed}); Ctrl-C to stop")
        with err.status("simulating…") as status:
            stats = simulate(
                client,
                things,
                rate=args.rate,
                duration=args.duration,
                seed=args.seed,
                gap_rate=args.gap_rate,
                bad_rate=args.bad_rate,
                interval=args.interval,
                on_tick=lambda s: status.update(summary_line(s)),
            )
    err.print(summary_line(stats))
    _print_json(stats.as_json())
    return 0


def cmd_tail(args: argparse.Namespace) -> int:
    metrics = [m for m in (args.metrics or "").split(",") if m] or None
    printed = 0
    deadline = time.monotonic() + args.seconds if args.seconds else None

    def show(frame: dict[str, Any]) -> None:
        nonlocal printed
        shown = {k: v for k, v in frame.get("metrics", {}).items() if not metrics or k in metrics}
        line = {"timestamp": frame.get("timestamp"), "time": frame.get("time"), "metrics": shown}
        sys.stdout.write(json.dumps(line, ensure_ascii=False) + "\n")
        sys.stdout.flush()
        printed += 1

    with _client(args) as client:
        latest = client.latest_event(args.thing)
        last = latest.get("timestamp")
        if last is not None and not args.new_only:
            show(latest)
        if last is None:
            last = -1
        err.print(f"tailing {args.thing} (after {last}); Ctrl-C to stop")
        try:
            while not (args.count and printed >= args.count):
                if deadline and time.monotonic() > deadline:
                    return 0 if not args.count else 1
                time.sleep(args.interval)
                newest = client.latest_event(args.thing).get("timestamp")
                if newest is None or newest <= last:
                    continue
                end = max(newest + 1, int(time.time() * 1000) + 1)
                for frame in client.history(args.thing, start=last + 1, end=end, metrics=metrics, order="asc"):
                    show(frame)
                    last = max(last, frame["timestamp"])
                    if args.count and printed >= args.count:
                        break
                last = max(last, newest)
        except KeyboardInterrupt:
            return 0
    return 0


def cmd_things(args: argparse.Namespace) -> int:
    with _client(args) as client:
        rows: list[dict[str, Any]] = []
        places = (
            [{"id": args.place, "kind": "fleets" if args.fleet else "sites"}]
            if args.place
            else [{**p, "kind": "sites"} for p in client.list_sites()]
            + [{**p, "kind": "fleets"} for p in client.list_fleets()]
        )
        for place in places:
            listing = client.list_fleet_things if place["kind"] == "fleets" else client.list_site_things
            for thing in listing(place["id"]):
                rows.append({**thing, "place": place.get("name", place["id"]), "placeId": place["id"]})
    if args.json:
        _print_json(rows)
        return 0
    table = Table("thing id", "name", "type", "place")
    for row in rows:
        table.add_row(
            str(row.get("thingId") or row.get("id")),
            str(row.get("thingName", "")),
            str(row.get("thingTypeId") or ""),
            str(row["place"]),
        )
    _out().print(table)
    return 0


def cmd_templates(args: argparse.Namespace) -> int:
    with _client(args) as client:
        if args.action == "test":
            if not args.id or not args.file:
                raise UsageError("templates test TEMPLATE_ID FILE")
            _print_json(client.test_template(args.id, _load_json(args.file)))
            return 0
        items = list(client.list_templates())
    if args.json:
        _print_json(items)
        return 0
    table = Table("template id", "name", "target", "format", "revision", "status")
    for t in items:
        table.add_row(
            t["id"],
            t.get("name", ""),
            t.get("target", ""),
            t.get("format", ""),
            str(t.get("revision", "")),
            t.get("status", ""),
        )
    _out().print(table)
    return 0


def cmd_keys(args: argparse.Namespace) -> int:
    with _client(args) as client:
        if args.action == "create":
            if not args.name or not args.scopes:
                raise UsageError("keys create --name NAME --scopes a,b")
            body: dict[str, Any] = {"name": args.name, "scopes": args.scopes.split(",")}
            if args.expires_at:
                body["expiresAt"] = args.expires_at
            _print_json(client.create_api_key(body))  # type: ignore[arg-type]
            return 0
        if args.action == "revoke":
            if not args.id:
                raise UsageError("keys revoke KEY_ID")
            client.revoke_api_key(args.id)
            err.print(f"revoked {args.id}")
            return 0
        items = list(client.list_api_keys())
    if args.json:
        _print_json(items)
        return 0
    table = Table("key id", "name", "prefix", "scopes", "expires", "revoked")
    for k in items:
        table.add_row(
            k["id"],
            k.get("name", ""),
            k.get("prefix", ""),
            ",".join(k.get("scopes", [])),
            str(k.get("expiresAt") or "-"),
            str(k.get("revoked", False)),
        )
    _out().print(table)
    return 0


# --- parser ---


def build_parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--url", default=argparse.SUPPRESS, help=f"API base URL ($TELEMETRY_URL, default {DEFAULT_URL})"
    )
    common.add_argument("--key", default=argparse.SUPPRESS, help="platform API key ($TELEMETRY_API_KEY)")
    common.add_argument("--timeout", type=float, default=argparse.SUPPRESS, help="seconds per request (30)")
    parser = argparse.ArgumentParser(
        prog="telemetry", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter, parents=[common]
    )
    sub = parser.add_subparsers(dest="command", required=True)

    send = sub.add_parser("send", parents=[common], help="send frames from a JSON file or stdin")
    send.add_argument("file", nargs="?", default="-", help='JSON: {"frames": [...]} or [...]; "-" for stdin')
    send.add_argument("--thing", required=True)
    send.set_defaults(func=cmd_send)

    back = sub.add_parser("backfill", parents=[common], help="send a CSV / JSON Lines / Parquet file, resumably")
    back.add_argument("file")
    back.add_argument("--thing", required=True)
    back.add_argument("--format", choices=["auto", "csv", "jsonl", "parquet"], default="auto")
    back.add_argument(
        "--layout",
        choices=["auto", "wide", "long"],
        default="auto",
        help="wide: a column per metric; long: timestamp,metric,value",
    )
    back.add_argument("--timestamp-column", help="default: timestamp/time/ts/datetime/date, else the first column")
    back.add_argument(
        "--chunk-size", type=int, default=limits.MAX_FRAMES, help=f"frames per request (≤ {limits.MAX_FRAMES:,})"
    )
    back.add_argument("--concurrency", type=int, default=4, help="requests in flight (4)")
    back.add_argument("--checkpoint", help="default FILE.checkpoint")
    back.add_argument("--rejects", help="refused rows and why, JSON Lines (default FILE.rejects.jsonl)")
    back.add_argument("--restart", action="store_true", help="ignore (and replace) an existing checkpoint")
    back.add_argument("--no-progress", action="store_true")
    back.add_argument("--stop-after", type=int, default=0, help=argparse.SUPPRESS)  # acts as Ctrl-C after N chunks
    back.set_defaults(func=cmd_backfill)

    sim = sub.add_parser("simulate", parents=[common], help="N things sending realistic signals")
    sim.add_argument("--things", type=int, default=3)
    sim.add_argument("--rate", type=float, default=1.0, help="frames per second per thing")
    sim.add_argument("--duration", type=float, default=0, help="seconds (0: until Ctrl-C)")
    sim.add_argument("--interval", type=float, default=1.0, help="seconds between a thing's requests")
    sim.add_argument("--seed", type=int, default=1)
    sim.add_argument("--gap-rate", type=float, default=0.02, help="probability a frame goes missing")
    sim.add_argument("--bad-rate", type=float, default=0.01, help="probability a frame carries a bad value")
    sim.add_argument("--site", help="register the things in this site (default: a site named Simulator)")
    sim.add_argument("--thing", action="append", help="simulate these existing things instead (repeatable)")
    sim.set_defaults(func=cmd_simulate)

    tail = sub.add_parser("tail", parents=[common], help="print a thing's new readings as they arrive")
    tail.add_argument("thing")
    tail.add_argument("--interval", type=float, default=1.0, help="seconds between polls")
    tail.add_argument("--metrics", help="comma-separated names")
    tail.add_argument("--new-only", action="store_true", help="do not print the current latest reading first")
    tail.add_argument("--count", type=int, default=0, help="exit after printing this many readings")
    tail.add_argument("--for", dest="seconds", type=float, default=0, help="stop after this many seconds")
    tail.set_defaults(func=cmd_tail)

    things = sub.add_parser("things", parents=[common], help="list things (of every site and fleet)")
    things.add_argument("--place", help="only this site (or fleet, with --fleet)")
    things.add_argument("--fleet", action="store_true")
    things.add_argument("--json", action="store_true")
    things.set_defaults(func=cmd_things)

    templates = sub.add_parser("templates", parents=[common], help="list templates, or test one on a payload")
    templates.add_argument("action", nargs="?", choices=["list", "test"], default="list")
    templates.add_argument("id", nargs="?")
    templates.add_argument("file", nargs="?", help='the sample payload (JSON); "-" for stdin')
    templates.add_argument("--json", action="store_true")
    templates.set_defaults(func=cmd_templates)

    keys = sub.add_parser("keys", parents=[common], help="list, create or revoke API keys")
    keys.add_argument("action", nargs="?", choices=["list", "create", "revoke"], default="list")
    keys.add_argument("id", nargs="?", help="the key id (revoke)")
    keys.add_argument("--name")
    keys.add_argument("--scopes", help="comma-separated")
    keys.add_argument("--expires-at")
    keys.add_argument("--json", action="store_true")
    keys.set_defaults(func=cmd_keys)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    for name, default in (("url", None), ("key", None), ("timeout", 30.0)):
        if not hasattr(args, name):
            setattr(args, name, default)
    try:
        return int(args.func(args))
    except UsageError as exc:
        err.print(f"[red]telemetry {args.command}[/]: {exc}")
        return 2
    except (ReaderError, ClientError) as exc:
        err.print(f"[red]telemetry {args.command}[/]: {exc}")
        return 2
    except ApiError as exc:
        err.print(f"[red]{exc}[/]")
        for item in exc.errors[:20]:
            err.print(f"  {item.get('path')}: {item.get('message')}")
        return 1


if __name__ == "__main__":
    sys.exit(main())
