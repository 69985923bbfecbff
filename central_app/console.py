"""The headless view of Central (``--no-gui``): one line per log entry, a status line every
few seconds. A ``CentralListener`` like the control center, printing instead of painting."""

from __future__ import annotations

import contextlib
import os
import sys
import threading
from collections import Counter
from concurrent.futures import Future
from typing import TextIO

from central_app.views import CentralControls, CpStatus, CpView, LinkStatus, LogEntry, RequestView


class ConsoleView:
    def __init__(self, controls: CentralControls, out: TextIO | None = None) -> None:
        self.controls = controls
        self.out = out or sys.stdout
        self._lock = threading.Lock()
        self._links: LinkStatus | None = None

    def print_line(self, line: str) -> None:
        with self._lock:
            try:
                print(line, file=self.out, flush=True)
            except (OSError, ValueError):  # stdout closed (piped into head, terminal gone)
                with contextlib.suppress(OSError, ValueError, AttributeError):
                    os.dup2(os.open(os.devnull, os.O_WRONLY), self.out.fileno())

    # CentralListener
    def cp_changed(self, cp: CpView) -> None:
        pass

    def request_changed(self, request: RequestView) -> None:
        pass

    def logged(self, entry: LogEntry) -> None:
        self.print_line(f"{entry.ts} {entry.level.value.upper():7} [{entry.source}] {entry.text}")

    def links_changed(self, links: LinkStatus) -> None:
        self._links = links

    def status_line(self) -> str:
        try:
            counts = self._counts()
        except TimeoutError:
            return "status: Central's core is busy (no answer within 10 s); still running"
        parts = [f"{status.value} {counts.get(status, 0)}" for status in CpStatus]
        links = self._links
        kafka = "?" if links is None else ("up" if links.kafka_up else "DOWN")
        db = "?" if links is None else ("ok" if links.database_ok else "ERROR")
        # from the same count as the states: a CP is DISCONNECTED exactly while its monitor
        # is not connected (the links are refreshed once a second and said "monitors 0"
        # right after three monitors authenticated, beside "ACTIVE 3")
        monitors = sum(counts.values()) - counts.get(CpStatus.DISCONNECTED, 0)
        role = f" | {links.central_id} {links.role.upper()}" if links and links.role else ""
        return (
            f"status: {', '.join(parts)} | monitors {monitors} | Kafka {kafka} | database {db}"
            + role
        )

    def _counts(self) -> Counter[CpStatus]:
        # Counting on the owner costs microseconds per CP; a snapshot builds and sorts a view
        # of every CP (tens of ms at 10,000, a pause in the heartbeats every status line).
        counter = getattr(self.controls, "status_counts", None)
        if counter is not None:
            return counter()
        return Counter(view.status for view in self.controls.snapshot())

    def print_status(self) -> None:
        self.print_line(self.status_line())


def _wait(posted: Future[None] | None) -> None:
    """The console's thread may wait for a posted command (the GUI's must not): "done" is
    said once the owner applied it."""
    if posted is not None:
        posted.result(COMMAND_TIMEOUT_S)


COMMAND_TIMEOUT_S = 10.0
HELP = "commands: stop CP_ID | resume CP_ID | stop all | resume all | status | help"


def operator_command(controls: CentralControls, line: str) -> str:
    """Carry out one line typed at the headless console; returns what to print.

    The same Stop / Resume the control center's buttons call, for an operator on a server
    without a display (or a script driving Central through a pipe).
    """
    words = (
        line.replace("-", " ", 1).split()
        if line.strip() in ("stop-all", "resume-all")
        else line.split()
    )
    if not words:
        return ""
    verb, rest = words[0].lower(), words[1:]
    known = {view.cp_id for view in controls.snapshot()}
    if verb == "help":
        return HELP
    if verb in ("stop", "resume") and len(rest) == 1:
        target = rest[0]
        if target.lower() == "all":
            _wait((controls.stop_all if verb == "stop" else controls.resume_all)())
            return f"operator: {verb} all: done"
        if target not in known:
            return f"operator: unknown charging point {target!r} ({len(known)} known)"
        _wait((controls.stop_cp if verb == "stop" else controls.resume_cp)(target))
        return f"operator: {verb} {target}: done"
    return f"operator: cannot read {line.strip()!r}; {HELP}"


def read_operator_commands(console: ConsoleView, lines: TextIO) -> None:
    """Run in a thread: every stdin line is a command; ends at end of input."""
    try:
        for line in lines:
            if line.strip() == "status":
                console.print_status()
                continue
            answer = operator_command(console.controls, line)
            if answer:
                console.print_line(answer)
    except (OSError, ValueError):  # stdin closed under us: nothing more to read
        return
