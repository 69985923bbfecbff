"""Which cores the benchmark's processes run on (``taskset``): Central alone on one core, the
broker, the generator and the Kafka simulation on the other(s), so that "Central on one
core" is what the figures measure and the load generator never competes with it.

On the 2-core machine: Central on CPU 0, everything else on CPU 1. ``--no-pin`` leaves the
kernel to place them. Central (and the Go generator) are started under ``taskset -c``; the
processes the coordinator starts itself (Kafka simulation, Python monitor workers) and the
coordinator with the broker it starts get ``sched_setaffinity`` on every thread.
"""

from __future__ import annotations

import contextlib
import os
import shutil
from dataclasses import dataclass

from fleet.errors import FleetError


def cpu_list(cpus: frozenset[int]) -> str:
    """taskset's notation: ``1``, ``1-3``, ``0,2``."""
    ordered = sorted(cpus)
    runs: list[list[int]] = []
    for cpu in ordered:
        if runs and cpu == runs[-1][-1] + 1:
            runs[-1].append(cpu)
        else:
            runs.append([cpu])
    return ",".join(str(r[0]) if len(r) == 1 else f"{r[0]}-{r[-1]}" for r in runs)


@dataclass(frozen=True)
class Pinning:
    central: frozenset[int]
    rest: frozenset[int]  # broker, generator, Kafka simulation, coordinator
    broker: bool = True  # False: a broker given with --kafka, which is not ours to pin

    def taskset(self, cpus: frozenset[int]) -> list[str]:
        """The ``taskset -c LIST`` prefix of a command line."""
        return [taskset_command(), "-c", cpu_list(cpus)]

    def describe(self) -> dict[str, str]:
        rest = cpu_list(self.rest)
        return {
            "central": cpu_list(self.central),
            "generator": rest,
            "broker": rest if self.broker else "not pinned (--kafka)",
        }


def plan() -> Pinning | None:
    """Central on the first core this process may use, the rest on the others; None with
    fewer than two (nothing to separate)."""
    allowed = sorted(os.sched_getaffinity(0))
    if len(allowed) < 2:
        return None
    taskset_command()
    return Pinning(central=frozenset(allowed[:1]), rest=frozenset(allowed[1:]))


def taskset_command() -> str:
    found = shutil.which("taskset")
    if found is None:
        raise FleetError(
            "taskset is missing (Debian's util-linux): run `make setup`, or pass --no-pin"
        )
    return found


def pin_process(pid: int, cpus: frozenset[int]) -> None:
    """``sched_setaffinity`` on every thread of ``pid`` (threads started later inherit it)."""
    try:
        tids = [int(t) for t in os.listdir(f"/proc/{pid}/task")]
    except OSError:
        tids = [pid]
    for tid in tids:
        with contextlib.suppress(ProcessLookupError):  # a thread that ended meanwhile
            os.sched_setaffinity(tid, cpus)


def describe(pinning: dict[str, str] | None) -> str:
    """The table's cell."""
    if not pinning:
        return "no"
    broker = pinning.get("broker", "")
    rest = pinning.get("generator", "")
    if broker == rest:
        return f"Central CPU {pinning['central']}; broker + generator CPU {rest}"
    return f"Central CPU {pinning['central']}; generator CPU {rest}; broker {broker}"
