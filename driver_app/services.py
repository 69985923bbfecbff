"""Services files: a list of CP ids to charge at, one after another, unattended.

Format: one CP id per line; blank lines and ``#`` comments (whole-line or trailing) are
ignored. ``ServiceRun`` is the pure scheduler: the core asks it what to do each tick.

Rules (SPEC.md §10 and the driver issue):
- each request runs to its end (ticket, denial, interruption or timeout), then the run waits
  ``pause_s`` (4 s) before the next one;
- an id the network view does not know is reported and skipped without a request and without
  a pause (there is nothing to wait for). The network must be known first: the run waits
  until the view finished replaying ``evc.network.state``, or ``network_grace_s`` after start;
  with an empty view every id is attempted and Central decides;
- "stop after current" lets the running request end, then stops with a summary.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path

from driver_app.session import Phase, SessionView


class ServicesFileError(Exception):
    """The services file cannot be read or has no requests in it."""


@dataclass(frozen=True, slots=True)
class ServiceEntry:
    line: int  # 1-based line number in the file, for reports
    cp_id: str


def parse_services(text: str) -> list[ServiceEntry]:
    entries = []
    for number, raw in enumerate(text.splitlines(), 1):
        line = raw.split("#", 1)[0].strip()
        if line:
            entries.append(ServiceEntry(number, line.split()[0]))
    return entries


def load_services(path: str | Path) -> list[ServiceEntry]:
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise ServicesFileError(f"cannot read {path}: {exc.strerror or exc}") from exc
    except UnicodeDecodeError as exc:
        raise ServicesFileError(f"{path} is not UTF-8 text") from exc
    entries = parse_services(text)
    if not entries:
        raise ServicesFileError(f"{path} has no CP ids in it")
    return entries


class Outcome(StrEnum):
    FINISHED = "finished"
    DENIED = "denied"
    INTERRUPTED = "interrupted"
    TIMED_OUT = "timed_out"
    SKIPPED = "skipped"  # unknown CP id: no request sent
    NOT_SENT = "not_sent"  # the request could not be queued (e.g. Kafka client failure)


_OUTCOME_OF_PHASE = {
    Phase.FINISHED: Outcome.FINISHED,
    Phase.DENIED: Outcome.DENIED,
    Phase.INTERRUPTED: Outcome.INTERRUPTED,
    Phase.TIMED_OUT: Outcome.TIMED_OUT,
}


@dataclass(frozen=True, slots=True)
class EntryResult:
    entry: ServiceEntry
    outcome: Outcome
    detail: str
    kwh: float = 0.0
    eur: float = 0.0


class RunState(StrEnum):
    WAITING_NETWORK = "waiting_network"
    REQUESTING = "requesting"  # a request of the file is running
    PAUSING = "pausing"  # between two requests
    DONE = "done"  # ran to its end
    STOPPED = "stopped"  # stopped after the current request


@dataclass(frozen=True, slots=True)
class RunView:
    """Immutable progress snapshot for views."""

    name: str
    total: int
    index: int  # 1-based number of the request running or last run; 0 before the first
    state: RunState
    current: ServiceEntry | None
    results: tuple[EntryResult, ...]
    stop_requested: bool
    pause_left_s: float = 0.0

    @property
    def finished(self) -> bool:
        return self.state in (RunState.DONE, RunState.STOPPED)

    def summary(self) -> str:
        counts = Counter(r.outcome for r in self.results)
        kwh = sum(r.kwh for r in self.results)
        eur = sum(r.eur for r in self.results)
        parts = [f"{counts[o]} {o.value.replace('_', ' ')}" for o in Outcome if counts[o]]
        head = (
            f"{self.name}: ran all {self.total} entries"
            if self.state is RunState.DONE
            else f"{self.name}: stopped after {len(self.results)} of {self.total} entries"
        )
        return f"{head} — {', '.join(parts) or 'nothing run'}; {kwh:.3f} kWh, {eur:.2f} € in all"


@dataclass
class ServiceRun:
    name: str
    entries: list[ServiceEntry]
    started: float  # monotonic
    pause_s: float = 4.0
    network_grace_s: float = 3.0
    state: RunState = RunState.WAITING_NETWORK
    index: int = 0  # entries consumed so far
    results: list[EntryResult] = field(default_factory=list)
    stop_requested: bool = False
    current: ServiceEntry | None = None
    current_request: str | None = None
    pause_until: float = 0.0

    def stop_after_current(self) -> None:
        """Stop once the running request is over; between two requests (the pause, or
        before the first) none is running, so the run stops now: waiting out the pause
        made the click look ignored while a manual charge was still refused."""
        self.stop_requested = True
        if self.state in (RunState.PAUSING, RunState.WAITING_NETWORK):
            self._finish(RunState.STOPPED)

    def next_entry(
        self,
        now: float,
        network_ready: bool,
        knows: Callable[[str], bool] | None,
        busy: bool,
    ) -> tuple[ServiceEntry | None, list[EntryResult]]:
        """What to request now (if anything), plus entries skipped as unknown on the way.

        ``network_ready``: the network view finished its initial replay. ``knows`` is None
        while the view is empty or still being replayed (then every id is attempted and Central decides). ``busy`` is
        True while the driver's current session has not ended (a late answer to a timed-out
        request, or a supply adopted after a restart): the run waits for it.
        """
        skipped: list[EntryResult] = []
        if self.state is RunState.WAITING_NETWORK:
            if not network_ready and now - self.started < self.network_grace_s:
                return None, skipped
            self.state = RunState.PAUSING
            self.pause_until = now
        if self.state is not RunState.PAUSING or now < self.pause_until or busy:
            return None, skipped
        if self.stop_requested:
            self._finish(RunState.STOPPED)
            return None, skipped
        while self.index < len(self.entries):
            entry = self.entries[self.index]
            self.index += 1
            if knows is not None and not knows(entry.cp_id):
                result = EntryResult(entry, Outcome.SKIPPED, f"unknown CP id {entry.cp_id!r}")
                self.results.append(result)
                skipped.append(result)
                continue
            self.state = RunState.REQUESTING
            self.current = entry
            return entry, skipped
        self._finish(RunState.DONE)
        return None, skipped

    def started_request(self, request_id: str) -> None:
        self.current_request = request_id

    def request_ended(self, view: SessionView, now: float) -> EntryResult | None:
        """The running request of the file ended; records it and starts the pause."""
        if self.state is not RunState.REQUESTING or view.request_id != self.current_request:
            return None
        assert self.current is not None
        outcome = _OUTCOME_OF_PHASE.get(view.phase, Outcome.TIMED_OUT)
        detail = view.steps[-1].text if view.steps else outcome.value
        return self._record(EntryResult(self.current, outcome, detail, view.kwh, view.eur), now)

    def request_not_sent(self, why: str, now: float) -> EntryResult | None:
        """The entry's request could not even be sent; recorded, then the run goes on."""
        if self.state is not RunState.REQUESTING or self.current is None:
            return None
        return self._record(EntryResult(self.current, Outcome.NOT_SENT, why), now)

    def _record(self, result: EntryResult, now: float) -> EntryResult:
        self.results.append(result)
        self.current = None
        self.current_request = None
        if self.stop_requested:
            self._finish(RunState.STOPPED)
        elif self.index >= len(self.entries):
            self._finish(RunState.DONE)
        else:
            self.state = RunState.PAUSING
            self.pause_until = now + self.pause_s
        return result

    def view(self, now: float) -> RunView:
        return RunView(
            name=self.name,
            total=len(self.entries),
            index=self.index,
            state=self.state,
            current=self.current,
            results=tuple(self.results),
            stop_requested=self.stop_requested,
            pause_left_s=max(0.0, self.pause_until - now)
            if self.state is RunState.PAUSING
            else 0.0,
        )

    def _finish(self, state: RunState) -> None:
        self.state = state
        self.current = None
