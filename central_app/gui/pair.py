"""A paired Central's window: read-only while standby, the live control center once active.

``runtime.start()`` blocks for as long as this Central is the standby of its pair (it only
returns holding the lock), so the window cannot wait for it: :class:`PairWindows` shows a
:class:`~central_app.gui.window.ControlCenterWindow` over a
:class:`~central_app.standby_view.StandbyView` at once (the network as the active Central
publishes it, commands disabled, a "Standby of … — read-only" banner), runs ``start`` on a
thread, and when it returns replaces that window by the live one over the runtime, at the
same place and size. Closing the standby window abandons the wait.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from PySide6.QtCore import QObject, Signal
from PySide6.QtWidgets import QApplication

from central_app.gui.window import ControlCenterWindow
from central_app.standby_feed import StandbyFeed
from central_app.standby_view import StandbyView
from central_app.views import CentralControls

__all__ = ["PairWindows"]

log = logging.getLogger(__name__)

JOIN_S = 30.0  # what closing the app waits for a start that was already past the standby


class PairWindows(QObject):
    """Owns the current window; ``window`` changes once, from the standby's to the live one."""

    startFinished = Signal(object)  # None: started as the active Central; else the exception

    def __init__(
        self,
        runtime: CentralControls,
        start: Callable[[], None],
        abandon: Callable[[], None],
        make_window: Callable[[CentralControls], ControlCenterWindow],
        feed: StandbyFeed | None,
        view: StandbyView,
    ) -> None:
        super().__init__()
        self.runtime, self._start, self._abandon = runtime, start, abandon
        self._make_window, self._feed, self.view = make_window, feed, view
        self.window = make_window(view)
        self.error: BaseException | None = None
        self.active = False
        self._thread = threading.Thread(target=self._run_start, name="central-start", daemon=True)
        self.startFinished.connect(self._on_start_finished)

    def begin(self) -> None:
        """Show the standby window, start reading the network, and wait for the lock."""
        if self._feed is not None:
            self._feed.start()
        self.window.show()
        self._thread.start()

    def _run_start(self) -> None:
        try:
            self._start()
        except BaseException as exc:  # noqa: BLE001 (handed to the GUI thread, which says it)
            self.startFinished.emit(exc)
        else:
            self.startFinished.emit(None)

    def _on_start_finished(self, error: BaseException | None) -> None:
        if self._feed is not None:
            self._feed.close()
        if error is not None:
            self.error = error
            if not self.window.isVisible():
                return  # closed by the operator: the wait was abandoned
            log.error("the standby could not become active: %s", error)
            QApplication.instance().exit(2)  # type: ignore[union-attr]
            return
        self.active = True
        old = self.window
        self.window = self._make_window(self.runtime)
        self.window.setGeometry(old.geometry())
        self.window.show()
        old.close()
        old.deleteLater()

    def finish(self) -> None:
        """After the event loop: stop waiting as standby and let the start thread end."""
        if not self.active:
            self._abandon()
        if self._thread.is_alive():
            self._thread.join(JOIN_S)
        if self._feed is not None:
            self._feed.close()
