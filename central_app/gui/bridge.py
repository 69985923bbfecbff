"""The one place where Central's core threads meet Qt: a coalescing mailbox.

The core calls a :class:`~central_app.views.CentralListener` from its own thread, up to
10,000–20,000 ``cp_changed`` calls a second in a restart storm. One queued signal per call
would put one event per call in Qt's queue and one Python slot call per event in the GUI
thread, which is what froze the control center at 10,000 CPs. Instead
:class:`CentralBridge` is a mailbox:

- the listener methods (core thread) only store the payload under a lock: the newest
  ``CpView`` per CP and ``RequestView`` per request (older ones are superseded), the
  latest ``LinkStatus``, and log entries in a bounded deque that counts what it drops
  (nobody reads thousands of lines a second; the log says "… N more messages");
- the first call after a drain emits one queued ``_wake`` signal (one event per drain
  interval at most, whatever the call rate); the GUI thread then drains the mailbox after
  ``interval_ms`` and emits each kind once, as a batch (:attr:`cpsChanged`,
  :attr:`requestsChanged`, :attr:`logBatch`, :attr:`linksChanged`);
- at most ``max_batch`` CPs go out per drain (a storm flips every CP at once); the rest
  waits in a backlog, still coalesced, for a drain ``backlog_interval_ms`` later, so the
  event loop paints between two batches instead of stalling for the whole storm.

The payloads are frozen dataclasses, safe to hand across threads. The bridge lives in the
GUI thread; nothing in it touches a widget.
"""

from __future__ import annotations

import logging
import threading
from collections import Counter, deque
from itertools import islice

from PySide6.QtCore import QObject, QTimer, Signal

from central_app.views import CpView, LinkStatus, LogEntry, LogLevel, RequestView

__all__ = ["CentralBridge", "LogBatch"]

log = logging.getLogger(__name__)


class LogBatch:
    """The log entries of one drain: the newest ``entries`` and a count of the older ones
    that were dropped (by level), so the panel can say "… N more"."""

    __slots__ = ("dropped", "dropped_by_level", "entries")

    def __init__(
        self, entries: list[LogEntry], dropped: int = 0, by_level: Counter | None = None
    ) -> None:
        self.entries = entries
        self.dropped = dropped
        self.dropped_by_level: Counter = by_level if by_level is not None else Counter()

    def summary(self) -> LogEntry | None:
        """The "… N more messages" line, or None when nothing was dropped."""
        if not self.dropped:
            return None
        worst = [
            f"{n:,} {name}"
            for level, name in ((LogLevel.ERROR, "errors"), (LogLevel.WARNING, "warnings"))
            if (n := self.dropped_by_level.get(level, 0))
        ]
        extra = f" (among them {' and '.join(worst)})" if worst else ""
        level = LogLevel.WARNING if worst else LogLevel.INFO
        text = f"… {self.dropped:,} more messages in this burst not shown{extra}"
        if self.entries:  # placed before the newest entries, at the time of the first
            return LogEntry(text, level, "control center", self.entries[0].ts)
        return LogEntry(text, level, "control center")


class CentralBridge(QObject):
    """A ``CentralListener`` whose methods only fill a mailbox; the GUI thread drains it."""

    #: A batch of CPs (the newest view of each CP that changed since the last drain).
    cpsChanged = Signal(list)  # noqa: N815 (Qt naming)
    #: A batch of requests (the newest view of each), oldest first.
    requestsChanged = Signal(list)  # noqa: N815
    #: A :class:`LogBatch`.
    logBatch = Signal(object)  # noqa: N815
    #: The latest :class:`LinkStatus`.
    linksChanged = Signal(object)  # noqa: N815
    _wake = Signal()

    #: CPs per drain. A drain costs ~10 µs of GUI work per CP at 10,000 CPs (table row,
    #: summary count, status bar), so 1,000 keeps each pass of the event loop near 10 ms;
    #: a backlog drain follows ``backlog_interval_ms`` later, after a paint.
    MAX_BATCH = 1000

    def __init__(
        self,
        parent: QObject | None = None,
        *,
        interval_ms: int = 150,
        max_batch: int = MAX_BATCH,
        backlog_interval_ms: int = 10,
        max_log_lines: int = 100,
    ) -> None:
        super().__init__(parent)
        self._lock = threading.Lock()
        self._cps: dict[str, CpView] = {}
        self._requests: dict[str, RequestView] = {}
        self._links: LinkStatus | None = None
        self._log: deque[LogEntry] = deque()
        self._max_log = max_log_lines
        self._dropped = 0
        self._dropped_levels: Counter = Counter()
        self._armed = False  # a wake-up is on its way or the drain timer runs
        self._backlog: dict[str, CpView] = {}  # GUI thread only: CPs beyond max_batch
        self._max_batch = max_batch
        self._interval = interval_ms
        self._backlog_interval = backlog_interval_ms
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.timeout.connect(self.drain)
        self._wake.connect(self._on_wake)
        #: Counters for benchmarks and tests.
        self.calls = 0
        self.drains = 0

    # --- CentralListener (called from the core's threads) ----------------------------------
    # A few dict/deque operations under a lock; the only Qt call is the wake-up, once per
    # drain. After the window has closed the C++ side may be gone while the core still
    # reports for a moment: that wake-up is dropped quietly.

    def cp_changed(self, cp: CpView) -> None:
        with self._lock:
            self._cps[cp.cp_id] = cp
            self.calls += 1
            wake = not self._armed
            self._armed = True
        if wake:
            self._emit_wake()

    def request_changed(self, request: RequestView) -> None:
        with self._lock:
            self._requests.pop(request.request_id, None)  # re-queued as the newest
            self._requests[request.request_id] = request
            wake = not self._armed
            self._armed = True
        if wake:
            self._emit_wake()

    def logged(self, entry: LogEntry) -> None:
        with self._lock:
            if len(self._log) >= self._max_log:
                gone = self._log.popleft()
                self._dropped += 1
                self._dropped_levels[gone.level] += 1
            self._log.append(entry)
            wake = not self._armed
            self._armed = True
        if wake:
            self._emit_wake()

    def links_changed(self, links: LinkStatus) -> None:
        with self._lock:
            self._links = links
            wake = not self._armed
            self._armed = True
        if wake:
            self._emit_wake()

    def _emit_wake(self) -> None:
        try:
            self._wake.emit()
        except RuntimeError:  # "Internal C++ object already deleted"
            log.debug("control center gone; dropped a wake-up")

    # --- GUI thread ---------------------------------------------------------------------------

    def _on_wake(self) -> None:
        if not self._timer.isActive():
            self._timer.start(self._interval)

    def pending(self) -> int:
        """CPs waiting to be handed to the GUI (mailbox + backlog)."""
        with self._lock:
            return len(self._cps) + len(self._backlog)

    def drain(self) -> None:
        """Hand everything collected so far to the GUI, as one batch per kind."""
        with self._lock:
            cps, self._cps = self._cps, {}
            requests, self._requests = self._requests, {}
            links, self._links = self._links, None
            entries, self._log = list(self._log), deque()
            dropped, self._dropped = self._dropped, 0
            levels, self._dropped_levels = self._dropped_levels, Counter()
            # New calls from now on wake us again, unless a backlog keeps the timer going.
            self._armed = False
        self.drains += 1
        backlog = self._backlog
        backlog.update(cps)  # a newer view replaces a waiting one in place
        if len(backlog) <= self._max_batch:
            batch = list(backlog.values())
            backlog.clear()
        else:
            batch = [backlog.pop(cp_id) for cp_id in list(islice(backlog, self._max_batch))]
        if backlog:
            with self._lock:
                self._armed = True  # the timer below drains whatever arrives meanwhile
            self._timer.start(self._backlog_interval)
        if links is not None:
            self.linksChanged.emit(links)
        if batch:
            self.cpsChanged.emit(batch)
        if requests:
            self.requestsChanged.emit(list(requests.values()))
        if entries or dropped:
            self.logBatch.emit(LogBatch(entries, dropped, levels))
