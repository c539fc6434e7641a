"""The `telemetry` CLI against the real local stack: send, backfill (interrupted and resumed,
every reading stored exactly once), simulate, tail, things, templates test, keys."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
import telemetry_client.cli as cli
from telemetry_client import Client

from tests.support import REPO, callers_stdout, eventually

pytestmark = pytest.mark.e2e
T0 = 1718884800000


class Counting(httpx.HTTPTransport):
    """The real transport, keeping the frames of every accepted POST .../data."""

    accepted: list[int] = []

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        response = super().handle_request(request)
        if request.method == "POST" and request.url.path.endswith("/data") and response.status_code == 200:
            response.read()
            Counting.accepted += [f["timestamp"] for f in json.loads(request.content)["frames"]]
        return response


@pytest.fixture
def counted(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The CLI's client on a transport that records every frame the API accepted."""
    Counting.accepted = []
    real = cli.Client
    monkeypatch.setattr(cli, "Client", lambda url, key, **kw: real(url, key, transport=Counting(), **kw))
    return Counting.accepted


@pytest.fixture(scope="module")
def base(local_stack: Any, api_key: str) -> list[str]:
    return ["--url", local_stack.url, "--key", api_key]


@pytest.fixture(scope="module")
def api(local_stack: Any, api_key: str) -> Any:
    with Client(local_stack.url, api_key) as client:
        yield client


def new_thing(api: Client, *names: str) -> tuple[str, list[str]]:
    suffix = time.monotonic_ns()
    metrics = [
        api.create_metric(
            {
                "name": f"{n}{suffix}",
                "dataType": "Double",
                "defaultAggregation": "Avg",
                "validRange": {"min": -1000, "max": 1000},
            }
        )
        for n in names
    ]
    ttype = api.create_thing_type({"displayName": "Meter", "metricIds": [m["id"] for m in metrics]})
    site = api.create_site({"name": f"cli {suffix}"})
    thing = api.create_site_thing(site["id"], {"thingName": f"meter {suffix}", "thingTypeId": ttype["id"]})
    return thing["id"], [m["name"] for m in metrics]


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    with callers_stdout() as stdout:
        code = cli.main(list(argv))
    _, err = capsys.readouterr()
    return code, stdout.getvalue(), err


def stored(api: Client, thing: str, start: int, end: int) -> list[dict[str, Any]]:
    return list(api.history(thing, start=start, end=end))


def test_send_from_a_file_and_from_stdin(
    api: Client, base: list[str], tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    thing, (v,) = new_thing(api, "v")
    path = tmp_path / "frames.json"
    path.write_text(json.dumps({"frames": [{"timestamp": T0, "metrics": {v: 1.5}}]}))
    code, out, _ = run(capsys, *base, "send", "--thing", thing, str(path))
    assert code == 0 and json.loads(out)["framesIngested"] == 1
    monkeypatch.setattr(sys, "stdin", io.StringIO(json.dumps([{"timestamp": T0 + 1, "metrics": {v: 2}}])))
    code, out, _ = run(capsys, "send", *base, "--thing", thing)  # options after the command work too
    assert code == 0 and json.loads(out)["framesIngested"] == 1
    code, _, err = run(capsys, *base, "send", "--thing", thing, str(path).replace("frames", "missing"))
    assert code != 0
    path.write_text(json.dumps({"frames": [{"timestamp": T0, "metrics": {"unknown": 1}}]}))
    code, _, err = run(capsys, *base, "send", "--thing", thing, str(path))
    assert code == 1 and "frames/0/metrics/unknown" in err
    frames = eventually(lambda: len(x := stored(api, thing, T0, T0 + 2)) == 2 and x)
    assert [f["metrics"][v] for f in frames] == [1.5, 2.0]


def test_a_csv_backfill_interrupted_and_resumed_stores_every_reading_once(
    api: Client, base: list[str], tmp_path: Path, capsys: pytest.CaptureFixture[str], counted: list[int]
) -> None:
    thing, (v, i) = new_thing(api, "v", "i")
    rows = 2_500
    lines = [f"timestamp,{v},{i}"]
    for n in range(rows):
        value = "abc" if n == 777 else f"{n / 10}"  # refused by the API: not a number
        stamp = "not-a-time" if n == 1234 else str(T0 + n * 1000)  # refused before sending
        lines.append(f"{stamp},{value},{'' if n % 10 == 0 else n % 7}")  # every 10th row: a gap in i
    path = tmp_path / "meter.csv"
    path.write_text("\n".join(lines) + "\n")
    args = [
        *base,
        "backfill",
        str(path),
        "--thing",
        thing,
        "--chunk-size",
        "400",
        "--concurrency",
        "2",
        "--no-progress",
    ]

    # Given a backfill stopped (as by Ctrl-C) after two acknowledged chunks
    code, out, err = run(capsys, *args, "--stop-after", "2")
    first = json.loads(out)
    assert code == 130 and first["interrupted"] and not first["complete"], err
    assert 2 <= first["chunksSent"] <= 3  # the chunk in flight at Ctrl-C is waited for and recorded
    checkpoint = Path(first["checkpoint"]).read_text().splitlines()
    assert len(checkpoint) == 1 + first["chunksSent"]  # the header, then one line per acknowledged chunk
    sent_before = len(counted)

    # When it is run again
    code, out, err = run(capsys, *args)
    second = json.loads(out)

    # Then it sends only the rest, and every reading is stored exactly once
    assert code == 0 and second["complete"] and second["resumed"], err
    assert second["chunksSkipped"] == first["chunksSent"]
    assert second["chunksSent"] + second["chunksSkipped"] == second["chunks"] == 7  # ceil(2,499 valid / 400)
    assert sorted(counted) == sorted(set(counted)), "a frame was sent twice"
    assert len(counted) == rows - 2 and sent_before < len(counted)
    assert second["rowsRead"] == rows and second["framesAccepted"] == rows - 2 and second["rowsRefused"] == 2
    assert second["readingsAccepted"] == (rows - 2) * 2 - sum(
        1 for n in range(rows) if n % 10 == 0 and n not in (777, 1234)
    )
    rejects = [json.loads(line) for line in Path(second["rejects"]).read_text().splitlines()]
    assert [r["row"] for r in sorted(rejects, key=lambda r: r["row"])] == [778, 1235]  # 1-based data rows
    assert any("frames/" in reason and v in reason for r in rejects for reason in r["reasons"])
    history = eventually(lambda: len(x := stored(api, thing, T0, T0 + rows * 1000)) == rows - 2 and x, timeout=60)
    assert [f["timestamp"] for f in history] == [T0 + n * 1000 for n in range(rows) if n not in (777, 1234)]
    assert history[1]["metrics"] == {v: 0.1, i: 1.0} and history[0]["metrics"] == {v: 0.0}

    # And a third run finds the checkpoint complete and sends nothing
    before = len(counted)
    code, out, _ = run(capsys, *args)
    assert code == 0 and json.loads(out)["chunksSent"] == 0 and len(counted) == before


def test_a_long_json_lines_backfill(
    api: Client, base: list[str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    thing, (v, i) = new_thing(api, "v", "i")
    path = tmp_path / "long.jsonl"
    records = [
        {"timestamp": f"2024-06-20T12:00:0{n}Z", "metric": name, "value": n} for n in range(5) for name in (v, i)
    ]
    path.write_text("\n".join(json.dumps(r) for r in records) + "\n" + '{"timestamp": 1, "metric": "' + v + '"}\n')
    code, out, _ = run(capsys, *base, "backfill", str(path), "--thing", thing, "--no-progress")
    summary = json.loads(out)
    assert code == 0 and summary["readingsAccepted"] == 10 and summary["rowsRefused"] == 1
    history = eventually(lambda: len(x := stored(api, thing, T0, T0 + 10_000)) == 5 and x)
    assert history[4]["metrics"] == {v: 4.0, i: 4.0}


def test_parquet_without_pyarrow_says_so(base: list[str], tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    try:
        import pyarrow  # noqa: F401
    except ImportError:
        path = tmp_path / "x.parquet"
        path.write_bytes(b"PAR1")
        code, _, err = run(capsys, *base, "backfill", str(path), "--thing", "thing_x", "--no-progress")
        assert code == 2 and "pyarrow" in err
    else:
        pytest.skip("pyarrow is installed: the Parquet reader runs instead")


def test_simulate_sends_realistic_signals_for_a_few_seconds(
    api: Client, base: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    argv = [*base, "simulate", "--things", "2", "--rate", "4", "--duration", "3", "--seed", "7", "--bad-rate", "0.15"]
    code, out, _ = run(capsys, *argv)
    stats = json.loads(out)
    assert code == 0 and stats["things"] == 2 and stats["requests"] >= 4
    assert stats["badValuesSent"] > 0 and stats["badValuesRefused"] == stats["badValuesSent"]
    assert stats["framesAccepted"] == stats["framesSent"] - stats["badValuesRefused"] > 10
    now = int(time.time() * 1000)

    def all_stored() -> bool:
        return sum(len(stored(api, t, now - 600_000, now + 1000)) for t in stats["thingIds"]) == stats["framesAccepted"]

    assert eventually(all_stored, timeout=30)
    frame = stored(api, stats["thingIds"][0], now - 600_000, now + 1000)[0]
    assert set(frame["metrics"]) <= {"sim.temperature", "sim.humidity", "sim.power"}
    code, out, _ = run(capsys, *argv)  # a second run reuses the things and definitions
    assert code == 0 and json.loads(out)["thingIds"] == stats["thingIds"]


def test_tail_prints_a_new_reading(api: Client, base: list[str], local_stack: Any, api_key: str) -> None:
    thing, (v,) = new_thing(api, "v")
    now = int(time.time() * 1000)
    api.send_frames(thing, [{"timestamp": now - 5000, "metrics": {v: 1}}])
    assert eventually(lambda: api.latest_event(thing)["timestamp"] == now - 5000)
    env = {**os.environ, "TELEMETRY_URL": local_stack.url, "TELEMETRY_API_KEY": api_key}
    env["PYTHONPATH"] = os.pathsep.join([str(REPO / "shared"), env.get("PYTHONPATH", "")])
    tail = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "telemetry_client.cli",
            "tail",
            thing,
            "--new-only",
            "--count",
            "1",
            "--for",
            "40",
            "--interval",
            "0.3",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        assert tail.stderr and "tailing" in tail.stderr.readline()  # it has read the current latest
        api.send_frames(thing, [{"timestamp": now, "metrics": {v: 42.5}}])
        out, err = tail.communicate(timeout=45)
    finally:
        tail.kill()
    assert tail.returncode == 0, err
    assert [json.loads(line) for line in out.splitlines()] == [
        {"timestamp": now, "time": eventually(lambda: api.latest_event(thing))["time"], "metrics": {v: 42.5}}
    ]


def test_things_templates_and_keys(
    api: Client, base: list[str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    thing, (v,) = new_thing(api, "v")
    code, out, _ = run(capsys, *base, "things", "--json")
    assert code == 0 and thing in {t["id"] for t in json.loads(out)}
    code, out, _ = run(capsys, *base, "things")
    assert code == 0 and thing in out
    metric = next(m for m in api.list_metrics() if m["name"] == v)
    template = api.create_template(
        {
            "name": "cli",
            "target": "ThingData",
            "format": "JsonPointer",
            "spec": {
                "recordsPointer": "/r",
                "timestamp": {"source": {"pointer": "/t"}, "format": "epoch_ms"},
                "mappings": [{"metricId": metric["id"], "source": {"pointer": "/x"}}],
            },
        }
    )
    sample = tmp_path / "sample.json"
    sample.write_text(json.dumps({"r": [{"t": T0, "x": 3}, {"t": "bad", "x": 4}]}))
    code, out, _ = run(capsys, *base, "templates", "test", template["id"], str(sample))
    report = json.loads(out)
    assert code == 0 and report["recordsParsed"] == 2 and report["recordsSkipped"][0]["index"] == 1
    code, out, _ = run(capsys, *base, "templates", "--json")
    assert template["id"] in {t["id"] for t in json.loads(out)}
    code, out, _ = run(capsys, *base, "keys", "create", "--name", "cli-reader", "--scopes", "places:read")
    created = json.loads(out)
    assert code == 0 and created["key"].startswith("avy_")
    code, out, _ = run(capsys, *base, "keys", "--json")
    assert created["id"] in {k["id"] for k in json.loads(out)}
    code, _, _ = run(capsys, *base, "keys", "revoke", created["id"])
    assert code == 0 and api.get_api_key(created["id"])["revoked"] is True
    code, _, err = run(capsys, "--url", base[1], "--key", "avy_nope", "keys")
    assert code == 1 and "401" in err


def test_a_real_ctrl_c_then_the_same_command_sends_only_what_was_not_acknowledged(
    api: Client, base: list[str], local_stack: Any, api_key: str, tmp_path: Path,
    capsys: pytest.CaptureFixture[str], counted: list[int],
) -> None:  # fmt: skip
    import signal

    thing, (v,) = new_thing(api, "v")
    rows = 6_000
    path = tmp_path / "big.csv"
    path.write_text(f"timestamp,{v}\n" + "".join(f"{T0 + n},{n % 500}\n" for n in range(rows)))
    argv = ["backfill", str(path), "--thing", thing, "--chunk-size", "100", "--concurrency", "2", "--no-progress"]
    env = {**os.environ, "TELEMETRY_URL": local_stack.url, "TELEMETRY_API_KEY": api_key}
    env["PYTHONPATH"] = os.pathsep.join([str(REPO / "shared"), env.get("PYTHONPATH", "")])
    first = subprocess.Popen(
        [sys.executable, "-m", "telemetry_client.cli", *argv], stdout=subprocess.PIPE, text=True, env=env
    )
    checkpoint = Path(str(path) + ".checkpoint")
    assert eventually(lambda: checkpoint.exists() and len(checkpoint.read_text().splitlines()) >= 4, timeout=30)
    first.send_signal(signal.SIGINT)  # Ctrl-C
    out, _ = first.communicate(timeout=30)
    interrupted = json.loads(out)
    assert first.returncode == 130 and interrupted["interrupted"] and interrupted["chunksSent"] < 60
    acked = [json.loads(line) for line in checkpoint.read_text().splitlines()[1:]]
    assert len(acked) == interrupted["chunksSent"]

    code, out, _ = run(capsys, *base, *argv)
    summary = json.loads(out)
    assert code == 0 and summary["complete"] and summary["chunksSkipped"] == len(acked)
    assert len(counted) == len(set(counted)) == rows - sum(a["frames"] for a in acked)  # nothing acknowledged resent
    assert summary["framesAccepted"] == rows
    # 6,000 readings in one minute: the writer needs a few seconds on an idle machine, more on a loaded one
    assert eventually(lambda: api.latest_event(thing)["timestamp"] == T0 + rows - 1, timeout=180)
