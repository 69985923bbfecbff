"""Running a schedule against the live network: faults in threads, a line per fault, a progress
line every 10 s, Central's memory and open files sampled, deaths nobody caused noticed.

Each fault runs in a thread of its own: inject, wait its hold time, heal. A fault starts at
its planned time once fewer than ``max_concurrent`` faults act and none of its components is
still in another fault (a killed broker counts until its restart returned); a later start
is said. Whatever happens — an exception, Ctrl+C — :meth:`Campaign.close` heals what is
still injured (SIGCONT for paused processes, firewall rules removed) before the network is
stopped.
"""

from __future__ import annotations

import contextlib
import signal
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from chaos.collect import LiveView, open_tickets, tail
from chaos.components import RunningNetwork
from chaos.evidence import Exit, Happened, Sample
from chaos.faults import Injector, Wound
from chaos.host import fd_kinds, open_files, rss_kib, signal_all
from chaos.schedule import Fault

PROGRESS_EVERY_S = 10.0
SAMPLE_EVERY_S = 2.0


@dataclass
class _Running:
    fault: Fault
    thread: threading.Thread
    injected_at: float | None = None
    healed_at: float | None = None
    wound: Wound | None = None
    note: str = ""
    done: bool = False


# a role announced by a process that started this long before a pid was first sampled is
# its predecessor's (the sampling is every 2 s; a Central takes longer to start than that)
SAME_PROCESS_S = 5.0


@dataclass
class Campaign:
    network: RunningNetwork
    injector: Injector
    schedule: list[Fault]
    duration: float
    max_concurrent: int
    cps: list[str]
    live: LiveView | None = None
    say: Callable[[str], None] = print
    timeline: list[Happened] = field(default_factory=list)
    samples: list[Sample] = field(default_factory=list)
    exits: list[Exit] = field(default_factory=list)
    started_at: float = 0.0  # epoch
    _t0: float = 0.0  # monotonic
    _running: dict[int, _Running] = field(default_factory=dict)
    _stop: threading.Event = field(default_factory=threading.Event)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _given_up: set[str] = field(default_factory=set)
    _first_seen: dict[int, float] = field(default_factory=dict)  # Central pid -> epoch

    # --------------------------------------------------------------------------- the loop

    def t(self) -> float:
        return time.monotonic() - self._t0

    def run(self) -> None:
        self._t0, self.started_at = time.monotonic(), time.time()
        pending = list(self.schedule)
        next_progress = PROGRESS_EVERY_S
        next_sample = 0.0
        next_watch = 1.0
        waiting_said: set[int] = set()
        while not self._stop.is_set():
            now = self.t()
            if now >= next_sample:
                self.sample()
                next_sample = now + SAMPLE_EVERY_S
            if now >= next_watch:
                self.watch_deaths()
                next_watch = now + 1.0
            while pending and pending[0].at <= now:
                fault = pending[0]
                reason = self._blocked(fault)
                if reason:
                    if fault.index not in waiting_said:
                        waiting_said.add(fault.index)
                        self.say(f"chaos: [t={now:6.1f}s] #{fault.index} waits: {reason}")
                    break
                pending.pop(0)
                skipped = self.injector.unavailable(fault.kind)
                if skipped:
                    self.say(f"chaos: [t={now:6.1f}s] #{fault.index} {fault.label}: {skipped}")
                    self.timeline.append(Happened(fault, None, None, skipped=skipped))
                    continue
                self._start(fault)
            if now >= next_progress:
                # in a thread: the database may not answer for a while (a fault on it)
                threading.Thread(target=self.progress, name="chaos-progress", daemon=True).start()
                next_progress += PROGRESS_EVERY_S
            active = [r for r in self._running.values() if not r.done]
            if not pending and not active and now >= self.duration:
                break
            time.sleep(0.1)
        self.sample()

    def _blocked(self, fault: Fault) -> str:
        with self._lock:
            active = [r for r in self._running.values() if not r.done]
        if len(active) >= self.max_concurrent:
            return f"{len(active)} faults acting (at most {self.max_concurrent})"
        busy = {name for r in active for name in r.fault.components} & fault.components
        if busy:
            return f"{', '.join(sorted(busy))} still in a fault"
        return ""

    def _start(self, fault: Fault) -> None:
        run = _Running(fault, threading.Thread(target=lambda: None))
        run.thread = threading.Thread(
            target=self._act, args=(run,), name=f"chaos-fault-{fault.index}", daemon=True
        )
        with self._lock:
            self._running[fault.index] = run
        run.thread.start()

    def _act(self, run: _Running) -> None:
        fault = run.fault
        try:
            run.wound = self.injector.inject(fault)
            run.injected_at = time.time()
            self.say(
                f"chaos: [t={self.t():6.1f}s] #{fault.index} {fault.label}: {run.wound.note}; "
                f"heals in {fault.hold:.1f} s"
            )
            self._stop.wait(fault.hold)
            run.note = run.wound.heal()
            run.healed_at = time.time()
            self.say(
                f"chaos: [t={self.t():6.1f}s] #{fault.index} healed ({fault.label}): {run.note}; "
                f"acted {run.healed_at - run.injected_at:.1f} s"
            )
        except Exception as exc:  # a fault that could not be done is said, not fatal
            run.note = f"FAILED: {type(exc).__name__}: {exc}"
            self.say(f"chaos: [t={self.t():6.1f}s] #{fault.index} {fault.label}: {run.note}")
            if run.injected_at is not None and run.healed_at is None:
                with contextlib.suppress(Exception):
                    run.note += f"; heal: {run.wound.heal()}" if run.wound else ""
                run.healed_at = time.time()
        finally:
            with self._lock:
                self.timeline.append(Happened(fault, run.injected_at, run.healed_at, note=run.note))
                run.done = True

    # --------------------------------------------------------------------------- watching

    def _in_fault(self) -> set[str]:
        with self._lock:
            return {n for r in self._running.values() if not r.done for n in r.fault.components}

    def watch_deaths(self, restart: bool = True) -> None:
        """A component found dead with no fault acting on it: recorded, and started again so
        the campaign goes on (a driver whose services file ran to its end is not dead)."""
        injured = self._in_fault() | self._given_up
        for managed in self.network.programs():
            if managed.name in injured or managed.alive():
                continue
            code = managed.exit_code()
            if managed.kind == "driver" and code == 0:
                continue
            note = managed.restart() if restart else "left down"
            if "FAILED" in note:
                self._given_up.add(managed.name)  # said once; it stays down
            self.exits.append(Exit(managed.name, time.time(), code, tail(managed.log), note))
            self.say(
                f"chaos: [t={self.t():6.1f}s] {managed.name} DIED with no fault on it "
                f"(exit {code}); {note}"
            )

    def sample(self) -> None:
        names = self.network.port_names()
        for name in ("central-a", "central-b"):
            for pid in self.network[name].pids():
                rss, fds = rss_kib(pid), open_files(pid)
                if rss is not None and fds is not None:
                    kinds = sorted(fd_kinds(pid, names).items(), key=lambda kv: -kv[1])
                    shown = ", ".join(f"{k} {n}" for k, n in kinds)
                    now = time.time()
                    first_seen = self._first_seen.setdefault(pid, now)
                    role = self._role_of(name, first_seen)
                    self.samples.append(Sample(now, name, pid, rss, fds, shown, role))

    def _role_of(self, name: str, first_seen: float) -> str:
        """The role ``name`` announced last, if the process sampled is the one that announced
        it: a Central restarted after a kill is first sampled while it starts (3 open files),
        when the last word on ``evc.central.status`` is still its predecessor's "active"."""
        if self.live is None:
            return ""
        since = self.live.roles_since.get(name)
        if since is None or since < first_seen - SAME_PROCESS_S:
            return ""
        return self.live.roles.get(name, "")

    def progress(self) -> None:
        with self._lock:
            acting = [r.fault for r in self._running.values() if not r.done]
            started = len(self._running)
        states = self.live.counts(self.cps) if self.live else {}
        shown = " ".join(f"{k}={v}" for k, v in sorted(states.items()))
        tickets, open_ = open_tickets(self.network.db_url)
        db = f"tickets={tickets} open={open_}" if tickets >= 0 else "database not answering"
        latest = {s.name: s for s in self.samples[-4:]}
        central = [f"{n} {s.rss_kib >> 10} MiB {s.fds} fds" for n, s in sorted(latest.items())]
        faults = ", ".join(f"#{f.index} {f.label}" for f in acting) or "none"
        self.say(
            f"chaos: t={self.t():.0f}s faults started {started}/{len(self.schedule)}, acting: "
            f"{faults} | CPs {shown} | {db} | {'; '.join(central)}"
        )

    # --------------------------------------------------------------------------- the end

    def close(self) -> None:
        """Heal whatever is still injured (called whatever happened)."""
        self._stop.set()
        with self._lock:
            runs = list(self._running.values())
        for run in runs:
            if run.wound is not None and run.wound.paused:
                signal_all(run.wound.paused, signal.SIGCONT)  # at once, before any join
        for run in runs:
            run.thread.join(timeout=120)
