"""The history's queries off the GUI thread: one worker thread, results by signal, in order.

Every view of the history (the History window's tabs, the CP detail, the sessions model)
asks its queries through one :class:`HistoryReader`. The queries run one at a time on the
``history-reader`` thread, in the order asked; each result (or the reason it failed, one line)
comes back to the GUI thread through a queued signal and is handed to the asker's callback.
An ask names a *key* ("this panel's totals"): a newer ask with the same key makes the older
one stale — skipped if it has not started, its result dropped if it has — so a filter
changed three times while the database is slow shows the third answer only. Callbacks of a
widget deleted meanwhile are not called.

The control center's reader uses its own connections with time limits
(:meth:`History.timed <central_app.history.History.timed>`): a locked or unreachable
database ends in a message in the window, never in a frozen window.
"""

from __future__ import annotations

import itertools
import logging
import threading
from collections.abc import Callable, Hashable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

import shiboken6
from PySide6.QtCore import QObject, Signal

from central_app.db import DatabaseError
from central_app.history import History

__all__ = ["LOADING", "HistoryReader"]

log = logging.getLogger(__name__)

T = TypeVar("T")
LOADING = "loading…"


class HistoryReader(QObject):
    """Runs ``query(history)`` on one worker thread; ``on_result``/``on_error`` on the GUI's."""

    _answered = Signal(int, bool, object)  # ticket, ok, result or the failure's text
    busyChanged = Signal(bool)  # noqa: N815 (Qt naming): queries waiting or running

    def __init__(
        self, history: History, parent: QObject | None = None, *, owns_history: bool = False
    ) -> None:
        super().__init__(parent)
        self.history = history
        self._owns_history = owns_history
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="history-reader")
        self._tickets = itertools.count(1)
        self._latest: dict[Hashable, int] = {}  # key -> newest ticket (read by the worker)
        self._asks: dict[int, tuple[Hashable, QObject, Callable, Callable]] = {}
        self._lock = threading.Lock()
        self._closed = False
        self.asked = 0  # queries asked (tests)
        self._answered.connect(self._deliver)  # from the worker: queued to the GUI thread

    @classmethod
    def of(cls, source: History | HistoryReader | None, parent: QObject) -> HistoryReader | None:
        """A view's reader: the one it is given (shared by a window's views), or one of its
        own for a bare ``History`` (tests, scripts)."""
        if source is None or isinstance(source, HistoryReader):
            return source
        return cls(source, parent)

    @property
    def busy(self) -> bool:
        return bool(self._asks)

    def ask(
        self,
        owner: QObject,
        key: Hashable,
        query: Callable[[History], T],
        on_result: Callable[[T], Any],
        on_error: Callable[[str], Any],
    ) -> None:
        """Run ``query`` after those already asked; deliver to ``owner``'s callbacks unless a
        newer ask with the same ``key`` came meanwhile or ``owner`` was deleted."""
        if self._closed:
            return
        ticket = next(self._tickets)
        full_key = (id(owner), key)
        with self._lock:
            self._latest[full_key] = ticket
        was_busy = self.busy
        self._asks[ticket] = (full_key, owner, on_result, on_error)
        self.asked += 1
        self._pool.submit(self._run, ticket, full_key, query)
        if not was_busy:
            self.busyChanged.emit(True)

    def _stale(self, ticket: int, key: Hashable) -> bool:
        with self._lock:
            return self._latest.get(key) != ticket

    def _run(self, ticket: int, key: Hashable, query: Callable[[History], Any]) -> None:
        """On the worker thread."""
        if self._stale(ticket, key):
            self._answered.emit(ticket, False, None)  # skipped: a newer ask replaced it
            return
        try:
            result = query(self.history)
        except DatabaseError as exc:
            self._answered.emit(ticket, False, str(exc))
        except Exception as exc:  # a bug in a query: said in the window, logged in full
            log.exception("a history query failed")
            self._answered.emit(ticket, False, f"reading the history failed: {exc!r}")
        else:
            self._answered.emit(ticket, True, result)

    def _deliver(self, ticket: int, ok: bool, value: object) -> None:
        """On the GUI thread, in the order the queries ran."""
        entry = self._asks.pop(ticket, None)
        if not self._asks:
            self.busyChanged.emit(False)
        if entry is None:
            return
        key, owner, on_result, on_error = entry
        if self._stale(ticket, key) or not shiboken6.isValid(owner):
            return
        with self._lock:
            del self._latest[key]
        if ok:
            on_result(value)
        elif value is not None:
            on_error(value)

    def close(self) -> None:
        """No more queries; a running one finishes on its own and is not delivered."""
        if self._closed:
            return
        self._closed = True
        self._asks.clear()
        self._pool.shutdown(wait=False, cancel_futures=True)
        if self._owns_history:
            self.history.close()
