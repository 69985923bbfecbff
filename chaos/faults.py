"""Injecting and healing the catalogue's faults on the running network.

``Injector.inject(fault)`` does the harm and returns a ``Wound`` that knows how to heal it:

| kind | injected | healed |
|---|---|---|
| kill | SIGKILL to every process of the component (PostgreSQL: the postmaster and its backends) | started again with its command line (``Managed.restart``) |
| pause | SIGSTOP to every process of the component | SIGCONT to the same processes |
| pg-restart | ``pg-local stop`` (fast shutdown) | ``pg-local start`` |
| disk-readonly | the broker's data file system fails read-only under it (ext4's error path) | the broker stopped if it still runs, ``e2fsck``, mounted again, the broker started |
| disk-full | the broker's data file system filled up | the filler removed; the broker started again if it stopped |
| partition | DROP rules between the two sides' processes and ports (``chaos.host``) | the rules removed |

A fault this machine cannot inject (``unavailable``: not root, no iptables, no loop mount) is
skipped with a line that says why; the schedule does not change.
"""

from __future__ import annotations

import logging
import signal
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from chaos.components import Managed, Postgres, Program, RunningNetwork
from chaos.disks import Disks
from chaos.host import Firewall, partition_rules, pid_alive, signal_all
from chaos.schedule import Fault, FaultKind

log = logging.getLogger(__name__)


@dataclass
class Wound:
    """A fault as it was injected: what was done, and how to heal it."""

    note: str
    heal: Callable[[], str]
    paused: list[int] = field(default_factory=list)  # SIGCONT these whatever happens


class Injector:
    def __init__(self, network: RunningNetwork, firewall: Firewall, disks: Disks) -> None:
        self.network = network
        self.firewall = firewall
        self.disks = disks

    def unavailable(self, kind: FaultKind) -> str:
        """Why this machine cannot inject ``kind`` ("" when it can)."""
        if kind is FaultKind.PARTITION and not self.firewall.available:
            return f"partitions skipped: {self.firewall.reason}"
        if kind in (FaultKind.DISK_READONLY, FaultKind.DISK_FULL) and not self.disks.available:
            return (
                f"broker disk faults skipped: {self.disks.reason or 'no file systems of their own'}"
            )
        return ""

    def inject(self, fault: Fault) -> Wound:
        if fault.kind is FaultKind.PARTITION:
            return self._partition(fault)
        target = self.network[fault.target]
        if fault.kind is FaultKind.KILL:
            return self._kill(target)
        if fault.kind is FaultKind.PAUSE:
            return self._pause(target)
        if fault.kind is FaultKind.PG_RESTART:
            assert isinstance(target, Postgres)
            note = target.stop_clean()
            return Wound(note, target.restart)
        if fault.kind is FaultKind.DISK_READONLY:
            self.disks.fail_readonly(target.name)
            return Wound(
                "data file system failed read-only", lambda: self._disk_back(target, False)
            )
        if fault.kind is FaultKind.DISK_FULL:
            filled = self.disks.fill(target.name)
            return Wound(
                f"data file system full ({filled >> 20} MiB written)",
                lambda: self._disk_back(target, True),
            )
        raise ValueError(f"unknown fault kind {fault.kind}")

    def _kill(self, target: Managed) -> Wound:
        pids = target.pids()
        if not pids:
            return Wound("was not running", target.restart)
        signal_all(pids, signal.SIGKILL)
        deadline = time.monotonic() + 10
        if isinstance(target, Program):
            target.wait_gone(10)
        while any(pid_alive(p) for p in pids) and time.monotonic() < deadline:
            time.sleep(0.05)
        return Wound(f"SIGKILL to pid {','.join(map(str, pids[:4]))}", target.restart)

    def _pause(self, target: Managed) -> Wound:
        pids = target.pids()
        stopped = signal_all(pids, signal.SIGSTOP)

        def heal() -> str:
            resumed = signal_all(stopped, signal.SIGCONT)
            return f"SIGCONT to {len(resumed)} process(es)"

        shown = ",".join(map(str, stopped[:4])) + ("…" if len(stopped) > 4 else "")
        return Wound(f"SIGSTOP to pid {shown or '(none running)'}", heal, paused=stopped)

    def _disk_back(self, target: Managed, full: bool) -> str:
        if full:
            self.disks.drain(target.name)
            if target.alive():
                return "filler removed; the broker kept running"
            return f"filler removed; the broker had stopped: {target.restart()}"
        ran = target.alive()
        if ran:  # its files are open on the failed file system: the repair needs it stopped
            self._kill(target)
        what = self.disks.repair(target.name)
        stopped = "stopped for the repair" if ran else "had stopped by itself"
        return f"{what}; the broker {stopped}: {target.restart()}"

    def _partition(self, fault: Fault) -> Wound:
        cgroups = self.network.cgroups

        def side(names: tuple[str, ...]) -> list[tuple[str, list[int], list[int]]]:
            out = []
            for name in names:
                managed = self.network[name]
                out.append((cgroups.path(name), managed.pids(), managed.ports))
            return out

        rules = partition_rules(side(fault.sides[0]), side(fault.sides[1]))
        count = self.firewall.cut(fault.index, rules)

        def heal() -> str:
            self.firewall.heal(fault.index)
            return "rules removed"

        return Wound(f"{count} DROP rules", heal)
