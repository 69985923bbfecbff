"""The fault schedule: which fault, on what, when and for how long — a pure function of a seed.

``plan(seed, duration, options)`` draws faults from the catalogue (``catalogue()``: every
fault that makes sense on the network's components) with ``random.Random(seed)`` and nothing
else, so the same seed, duration, network size and settings always give the same schedule,
on any machine (a fault the machine cannot inject, e.g. a partition without root, stays in
the schedule and is skipped at run time with a line saying why). The rules:

- faults arrive with exponential gaps (mean ``mean_gap``) after a ``warmup``;
- at most ``max_concurrent`` faults at once; a fault due while that many run waits for the
  first of them to heal;
- a component takes part in at most one fault at a time (a broker is not both killed and
  partitioned);
- each fault is healed after ``heal[0]`` to ``heal[1]`` seconds, and before ``duration``;
- the kind is drawn by weight among the kinds that still have a free option, then the
  option uniformly among that kind's free ones.

Plain data and arithmetic, no I/O: tests/chaos/test_schedule.py checks the rules above.
"""

from __future__ import annotations

import random
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum


class FaultKind(StrEnum):
    KILL = "kill"  # SIGKILL; healed by restarting it with the same command line
    PAUSE = "pause"  # SIGSTOP; healed by SIGCONT
    PG_RESTART = "pg-restart"  # PostgreSQL stopped cleanly (fast shutdown), started again
    DISK_READONLY = "disk-readonly"  # a broker's data file system remounted read-only
    DISK_FULL = "disk-full"  # a broker's data file system filled up
    PARTITION = "partition"  # no TCP between two sets of components (loopback firewall)


#: relative weights of the kinds (a kind without a free option is not drawn)
DEFAULT_WEIGHTS: Mapping[FaultKind, float] = {
    FaultKind.KILL: 3.0,
    FaultKind.PAUSE: 2.0,
    FaultKind.PARTITION: 3.0,
    FaultKind.PG_RESTART: 0.7,
    FaultKind.DISK_READONLY: 0.5,
    FaultKind.DISK_FULL: 0.5,
}

#: the kinds of process a fault may kill or pause (brief: any program of the network)
PROCESS_KINDS = ("central", "broker", "postgres", "monitor", "engine", "driver", "gateway")


@dataclass(frozen=True, slots=True)
class Component:
    """One program of the network, by the name the campaign gives it (``central-a``,
    ``broker-2``, ``postgres``, ``engine-CP-01``, ``monitor-CP-01``, ``ocpp-gateway``,
    ``ocpp-OCPP-01``, ``driver-D-001``) and its kind."""

    name: str
    kind: str  # central, broker, postgres, monitor, engine, gateway, charger, driver


@dataclass(frozen=True, slots=True)
class Option:
    """A fault the catalogue offers: its kind and the components it hits. A partition has
    two sides (no TCP between any component of one and any of the other); the other kinds
    have one side of one component."""

    kind: FaultKind
    sides: tuple[tuple[str, ...], ...]

    @property
    def components(self) -> frozenset[str]:
        return frozenset(name for side in self.sides for name in side)

    @property
    def label(self) -> str:
        return f"{self.kind} " + " | ".join(_side_label(side) for side in self.sides)


@dataclass(frozen=True, slots=True)
class Fault:
    """One fault of a schedule: injected ``at`` s after the campaign started, healed
    ``hold`` s later."""

    index: int
    at: float
    hold: float
    kind: FaultKind
    sides: tuple[tuple[str, ...], ...]

    @property
    def end(self) -> float:
        return self.at + self.hold

    @property
    def components(self) -> frozenset[str]:
        return frozenset(name for side in self.sides for name in side)

    @property
    def target(self) -> str:
        """The one component of a fault that is not a partition."""
        return self.sides[0][0]

    @property
    def label(self) -> str:
        return Option(self.kind, self.sides).label

    def line(self) -> str:
        return f"#{self.index} t={self.at:6.1f}s {self.label} for {self.hold:.1f} s"


def _side_label(side: tuple[str, ...]) -> str:
    if len(side) <= 3:
        return ",".join(side)
    return f"{{{side[0]},… {len(side)} components}}"


def catalogue(components: Iterable[Component]) -> list[Option]:
    """Every fault worth injecting into a network of these components, in a fixed order."""
    comps = sorted(components, key=lambda c: c.name)
    names = {c.name for c in comps}
    of = {kind: [c.name for c in comps if c.kind == kind] for kind in {c.kind for c in comps}}
    centrals = tuple(of.get("central", []))
    brokers = tuple(of.get("broker", []))
    options: list[Option] = []
    for c in comps:
        if c.kind in PROCESS_KINDS:
            options.append(Option(FaultKind.KILL, ((c.name,),)))
            options.append(Option(FaultKind.PAUSE, ((c.name,),)))
    if "postgres" in names:
        options.append(Option(FaultKind.PG_RESTART, (("postgres",),)))
    for broker in brokers:
        options.append(Option(FaultKind.DISK_READONLY, ((broker,),)))
        options.append(Option(FaultKind.DISK_FULL, ((broker,),)))

    def cut(a: Sequence[str], b: Sequence[str]) -> None:
        if a and b and not set(a) & set(b):
            options.append(Option(FaultKind.PARTITION, (tuple(a), tuple(b))))

    cp_side = tuple(of.get("monitor", []) + of.get("gateway", []))
    for central in centrals:
        cut([central], ["postgres"] if "postgres" in names else [])
        cut([central], brokers)
        cut([central], cp_side)
    for broker in brokers:
        cut([broker], [b for b in brokers if b != broker])
    for monitor in of.get("monitor", []):
        cp = monitor.removeprefix("monitor-")
        if f"engine-{cp}" in names:
            cut([monitor], [f"engine-{cp}"])
        cut([monitor], centrals)
    for name in of.get("engine", []) + of.get("driver", []) + of.get("gateway", []):
        cut([name], brokers)
    for gateway in of.get("gateway", []):
        cut([gateway], centrals)
        for charger in of.get("charger", []):
            cut([charger], [gateway])
    return options


def plan(
    seed: int,
    duration: float,
    options: Sequence[Option],
    *,
    max_concurrent: int = 2,
    heal: tuple[float, float] = (3.0, 15.0),
    mean_gap: float = 5.0,
    warmup: float = 3.0,
    weights: Mapping[FaultKind, float] = DEFAULT_WEIGHTS,
    kinds: Iterable[FaultKind] | None = None,
) -> list[Fault]:
    """The schedule of a campaign of ``duration`` s (see the module's rules)."""
    low, high = heal
    if not 0 < low <= high:
        raise ValueError(f"heal bounds must be 0 < min <= max, got {heal}")
    if max_concurrent < 1:
        raise ValueError("max_concurrent must be at least 1")
    if mean_gap <= 0:
        raise ValueError("mean_gap must be positive")
    allowed = set(kinds) if kinds is not None else set(FaultKind)
    offered = [o for o in options if o.kind in allowed and weights.get(o.kind, 0) > 0]
    rng = random.Random(seed)
    faults: list[Fault] = []
    t = warmup
    while True:
        t += rng.expovariate(1.0 / mean_gap)
        while True:
            running = [f for f in faults if f.at <= t < f.end]
            if len(running) < max_concurrent:
                break
            t = min(f.end for f in running)  # wait for the first to heal
        if t + low > duration:
            return faults
        busy = frozenset().union(*(f.components for f in running))
        free = [o for o in offered if not o.components & busy]
        by_kind: dict[FaultKind, list[Option]] = {}
        for option in free:
            by_kind.setdefault(option.kind, []).append(option)
        if not by_kind:
            continue  # everything is busy: the next arrival may find a free component
        drawn = sorted(by_kind)  # a fixed order for the draw
        kind = rng.choices(drawn, weights=[weights[k] for k in drawn])[0]
        option = rng.choice(by_kind[kind])
        hold = min(rng.uniform(low, high), duration - t)
        faults.append(Fault(len(faults) + 1, t, hold, kind, option.sides))


def concurrency(faults: Sequence[Fault]) -> int:
    """The most faults running at one instant (a fault runs over [at, end))."""
    points = sorted([(f.at, 1) for f in faults] + [(f.end, -1) for f in faults])
    most = running = 0
    for _, step in points:  # at equal times an end (-1) sorts before a start (+1)
        running += step
        most = max(most, running)
    return most
