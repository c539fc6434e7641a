"""``telemetry simulate``: N things sending realistic signals at a rate, for demos and load.

Each thing's metrics follow ``base + amplitude·sin(2πt/period + phase) + drift + noise``: the
drift is a random walk (a sensor that wanders), the noise Gaussian. Frames go missing at
``gap_rate`` (and a thing occasionally goes silent for a few seconds: an outage), and at
``bad_rate`` a value is corrupted (out of the metric's ``validRange``, or text where a number
belongs). The API refuses such a frame by index; the simulator counts it and resends the rest,
exactly as a careful device would. Everything is drawn from ``random.Random(seed)``: the same
seed gives the same signals, gaps and faults.
"""

from __future__ import annotations

import math
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from . import models as m
from .client import Client
from .errors import BadRequest

#: (name, unit, base, amplitude, period s, noise sd, drift sd per sqrt(s), valid range)
SIGNALS: tuple[tuple[str, str, float, float, float, float, float, tuple[float, float]], ...] = (
    ("sim.temperature", "°C", 21.0, 3.0, 600.0, 0.15, 0.02, (-40.0, 125.0)),
    ("sim.humidity", "%", 45.0, 8.0, 900.0, 0.8, 0.05, (0.0, 100.0)),
    ("sim.power", "W", 1200.0, 400.0, 300.0, 25.0, 2.0, (0.0, 10_000.0)),
)
SITE_NAME = "Simulator"
TYPE_NAME = "Simulated sensor"


@dataclass
class Signal:
    name: str
    base: float
    amplitude: float
    period: float
    noise: float
    drift_sigma: float
    valid: tuple[float, float]
    phase: float = 0.0
    drift: float = 0.0

    def sample(self, t: float, dt: float, rng: random.Random) -> float:
        self.drift += rng.gauss(0.0, self.drift_sigma * math.sqrt(max(dt, 0.0)))
        value = self.base + self.amplitude * math.sin(2 * math.pi * t / self.period + self.phase)
        value += self.drift + rng.gauss(0.0, self.noise)
        low, high = self.valid
        return round(min(max(value, low), high), 3)


@dataclass
class SimThing:
    id: str
    rng: random.Random
    signals: list[Signal]
    silent_until: float = 0.0

    def frames(
        self, now: float, rate: float, seconds: float, gap_rate: float, bad_rate: float, stats: Stats
    ) -> list[m.Frame]:
        """The frames of the last ``seconds`` at ``rate`` per second, with gaps and faults."""
        count = max(1, round(rate * seconds))
        out: list[m.Frame] = []
        if now < self.silent_until:
            stats.gaps += count
            return out
        if self.rng.random() < gap_rate / 10:  # an outage of 2 to 10 s
            self.silent_until = now + self.rng.uniform(2, 10)
        for k in range(count):
            t = now - seconds + (k + 1) * seconds / count
            if self.rng.random() < gap_rate:
                stats.gaps += 1
                continue
            metrics: dict[str, m.Scalar] = {s.name: s.sample(t, seconds / count, self.rng) for s in self.signals}
            if self.rng.random() < bad_rate:
                victim = self.rng.choice(self.signals)
                faults: list[m.Scalar] = [victim.valid[1] * 10 + 1, "ERR", -(victim.valid[1] * 10) - 1]
                metrics[victim.name] = self.rng.choice(faults)
                stats.bad_sent += 1
            out.append({"timestamp": int(t * 1000), "metrics": metrics})
        return out


@dataclass
class Stats:
    things: int = 0
    requests: int = 0
    frames_sent: int = 0
    frames_accepted: int = 0
    bad_sent: int = 0
    bad_refused: int = 0
    gaps: int = 0
    seconds: float = 0.0
    thing_ids: list[str] = field(default_factory=list)

    def as_json(self) -> m.Json:
        return {
            "things": self.things,
            "thingIds": self.thing_ids,
            "requests": self.requests,
            "framesSent": self.frames_sent,
            "framesAccepted": self.frames_accepted,
            "badValuesSent": self.bad_sent,
            "badValuesRefused": self.bad_refused,
            "gaps": self.gaps,
            "seconds": round(self.seconds, 2),
        }


def ensure_things(client: Client, count: int, site_id: str | None = None) -> list[str]:
    """The simulator's metrics, thing type, site and ``count`` things, created when absent and
    reused otherwise (found by name), so repeated runs do not pile up definitions."""
    existing = {metric["name"].lower(): metric for metric in client.list_metrics()}
    ids = []
    for name, unit, *_, (low, high) in SIGNALS:
        metric = existing.get(name.lower()) or client.create_metric(
            {
                "name": name,
                "dataType": "Double",
                "defaultAggregation": "Avg",
                "unitLabel": unit,
                "validRange": {"min": low, "max": high},
            }
        )
        ids.append(metric["id"])
    thing_type = next(
        (t for t in client.list_thing_types() if t.get("displayName") == TYPE_NAME and _metric_ids(t) == set(ids)),
        None,
    ) or client.create_thing_type({"displayName": TYPE_NAME, "metricIds": ids})
    type_id = thing_type.get("thingTypeId") or thing_type["id"]
    if site_id is None:
        site = next((s for s in client.list_sites() if s.get("name") == SITE_NAME), None) or client.create_site(
            {"name": SITE_NAME, "description": "things of `telemetry simulate`"}
        )
        site_id = site["id"]
    have = {t.get("thingName"): t for t in client.list_site_things(site_id)}
    names = [f"sim-{i:04d}" for i in range(count)]
    missing = [{"thingName": n, "thingTypeId": type_id} for n in names if n not in have]
    if missing:
        answer = client.create_things_bulk(site_id, missing)  # type: ignore[arg-type]
        for result in answer.get("results", []):
            if result.get("thing"):
                have[result["thing"]["thingName"]] = result["thing"]
    return [have[n].get("thingId") or have[n]["id"] for n in names if n in have]


def _metric_ids(thing_type: m.Json) -> set[str]:
    definition = thing_type.get("definition") or (thing_type.get("versions") or [{}])[-1]
    return set(definition.get("metricIds", []) if isinstance(definition, dict) else [])


def simulate(
    client: Client,
    thing_ids: list[str],
    *,
    rate: float,
    duration: float,
    seed: int = 1,
    gap_rate: float = 0.02,
    bad_rate: float = 0.01,
    interval: float = 1.0,
    clock: Callable[[], float] = time.time,
    sleep: Callable[[float], None] = time.sleep,
    on_tick: Callable[[Stats], None] | None = None,
) -> Stats:
    """Send ``rate`` frames per second per thing for ``duration`` seconds (0: until Ctrl-C), one
    request per thing every ``interval`` seconds."""
    master = random.Random(seed)
    things = []
    for thing_id in thing_ids:
        rng = random.Random(master.getrandbits(64))
        signals = [
            Signal(name, base, amp, period, noise, drift, valid, phase=rng.uniform(0, 2 * math.pi))
            for name, _unit, base, amp, period, noise, drift, valid in SIGNALS
        ]
        things.append(SimThing(thing_id, rng, signals))
    stats = Stats(things=len(things), thing_ids=list(thing_ids))
    started = clock()
    try:
        while duration <= 0 or clock() - started < duration:
            tick = clock()
            for thing in things:
                frames = thing.frames(tick, rate, interval, gap_rate, bad_rate, stats)
                if frames:
                    _send(client, thing.id, frames, stats)
            stats.seconds = clock() - started
            if on_tick:
                on_tick(stats)
            sleep(max(0.0, interval - (clock() - tick)))
    except KeyboardInterrupt:
        pass
    stats.seconds = clock() - started
    return stats


def _send(client: Client, thing_id: str, frames: list[m.Frame], stats: Stats) -> None:
    stats.frames_sent += len(frames)
    while frames:
        stats.requests += 1
        try:
            client.send_frames(thing_id, frames)
        except BadRequest as error:
            bad = {
                int(p[1]) for e in error.errors if len(p := str(e.get("path", "")).split("/")) > 1 and p[1].isdigit()
            }
            if not bad:
                raise
            stats.bad_refused += len(bad)
            frames = [f for i, f in enumerate(frames) if i not in bad]
            continue
        stats.frames_accepted += len(frames)
        return


def summary_line(stats: Stats) -> str:
    return (
        f"{stats.things} things · {stats.frames_accepted}/{stats.frames_sent} frames accepted · "
        f"{stats.bad_refused} bad values refused · {stats.gaps} gaps · {stats.seconds:.0f}s"
    )


__all__ = ["ensure_things", "simulate", "summary_line"]
