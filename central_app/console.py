"""The headless view of Central (``--no-gui``): one line per log entry, a status line every
few seconds. A ``CentralListener`` like the control center, printing instead of painting."""

from __future__ import annotations

import contextlib
import os
import sys
import threading
from collections import Counter
from typing import TextIO

from central_app.views import CentralControls, CpStatus, CpView, LinkStatus, LogEntry, RequestView


class ConsoleView:
    def __init__(self, controls: CentralControls, out: TextIO | None = None) -> None:
        self.controls = controls
        self.out = out or sys.stdout
        self._lock = threading.Lock()
        self._links: LinkStatus | None = None

    def _print(self, line: str) -> None:
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
        self._print(f"{entry.ts} {entry.level.value.upper():7} [{entry.source}] {entry.text}")

    def links_changed(self, links: LinkStatus) -> None:
        self._links = links

    def status_line(self) -> str:
        counts = Counter(view.status for view in self.controls.snapshot())
        parts = [f"{status.value} {counts.get(status, 0)}" for status in CpStatus]
        links = self._links
        kafka = "?" if links is None else ("up" if links.kafka_up else "DOWN")
        db = "?" if links is None else ("ok" if links.database_ok else "ERROR")
        monitors = 0 if links is None else links.monitors_connected
        return f"status: {', '.join(parts)} | monitors {monitors} | Kafka {kafka} | database {db}"

    def print_status(self) -> None:
        self._print(self.status_line())
