"""The one place where Central's core threads meet Qt.

The core calls a :class:`~central_app.views.CentralListener` from whatever thread produced
the change (asyncio loop, Kafka consumer, timers). Qt widgets and models may only be touched
from the GUI thread, so :class:`CentralBridge` does nothing but re-emit each call as a
signal. The bridge lives in the GUI thread; a signal emitted from another thread is
delivered to GUI-thread receivers as a queued call (``AutoConnection``), so every slot runs
in the GUI thread. The payloads are frozen dataclasses, safe to hand across threads.
"""

from __future__ import annotations

import logging

from PySide6.QtCore import QObject, Signal

from central_app.views import CpView, LinkStatus, LogEntry, RequestView

__all__ = ["CentralBridge"]

log = logging.getLogger(__name__)


class CentralBridge(QObject):
    """A ``CentralListener`` whose methods are thread-safe signal emissions."""

    cpChanged = Signal(object)  # CpView
    requestChanged = Signal(object)  # RequestView
    logEntry = Signal(object)  # LogEntry
    linksChanged = Signal(object)  # LinkStatus

    # --- CentralListener (called from the core's threads) ----------------------------------
    # After the window has closed the C++ side may be gone while the core still reports for a
    # moment (main stops the runtime after the event loop returns): drop those calls quietly
    # instead of raising in the core's thread.

    def cp_changed(self, cp: CpView) -> None:
        self._emit(self.cpChanged, cp)

    def request_changed(self, request: RequestView) -> None:
        self._emit(self.requestChanged, request)

    def logged(self, entry: LogEntry) -> None:
        self._emit(self.logEntry, entry)

    def links_changed(self, links: LinkStatus) -> None:
        self._emit(self.linksChanged, links)

    @staticmethod
    def _emit(signal, payload: object) -> None:
        try:
            signal.emit(payload)
        except RuntimeError:  # "Internal C++ object already deleted"
            log.debug("control center gone; dropped %s", type(payload).__name__)
