"""Where the control center opens the history: one History window, one detail per CP.

Kept out of the main window's module: the window only says "open CP-03" (double-click on
the map or table) or "open the history" (toolbar), and this object owns the windows.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from PySide6.QtCore import QObject
from PySide6.QtWidgets import QWidget

from central_app.gui.history.cp_detail import CpDetailDialog
from central_app.gui.history.reader import HistoryReader
from central_app.gui.history.window import HistoryWindow
from central_app.history import History
from central_app.views import CpView, LogLevel

log = logging.getLogger(__name__)


class HistoryLauncher(QObject):
    def __init__(
        self,
        parent: QWidget,
        history: History | None,
        *,
        live_view: Callable[[str], CpView | None],
        set_price: Callable[[str, float], object] | None,
    ) -> None:
        super().__init__(parent)
        self._parent = parent
        self.history = history
        # one reader thread for every history view, on connections that give up (5 s to
        # connect, 15 s a statement) instead of freezing on a locked or lost database
        self.reader = (
            None if history is None else HistoryReader(history.timed(), self, owns_history=True)
        )
        self._live_view = live_view
        self._set_price = set_price
        self.window: HistoryWindow | None = None
        self.details: dict[str, CpDetailDialog] = {}

    @classmethod
    def for_controls(
        cls,
        parent: QWidget,
        controls: object,
        *,
        live_view: Callable[[str], CpView | None],
        on_error: Callable[[str, LogLevel], None],
    ) -> HistoryLauncher:
        """From Central's controls: their ``history()`` and ``set_price`` when they have them
        (the core does; test fakes and the demo may not), a failure said in the log."""
        history = None
        source = getattr(controls, "history", None)
        if callable(source):
            try:
                history = source()
            except Exception as exc:
                log.warning("the history is unavailable", exc_info=True)
                on_error(f"History unavailable: {exc}", LogLevel.WARNING)
        set_price = getattr(controls, "set_price", None)
        return cls(
            parent,
            history,
            live_view=live_view,
            set_price=set_price if callable(set_price) else None,
        )

    @property
    def available(self) -> bool:
        return self.history is not None

    def open_history(self) -> HistoryWindow | None:
        if self.history is None:
            return None
        if self.window is None:
            self.window = HistoryWindow(self.reader, self._parent)
            self.window.cpActivated.connect(self.open_cp)
        self.window.show()
        self.window.raise_()
        self.window.activateWindow()
        return self.window

    def open_cp(self, cp_id: str) -> CpDetailDialog | None:
        if self.reader is None or not cp_id:
            return None
        dialog = self.details.get(cp_id)
        if dialog is None:
            dialog = CpDetailDialog(
                self.reader,
                cp_id,
                view=self._live_view(cp_id),
                set_price=self._set_price,
                parent=self._parent,
            )
            dialog.finished.connect(lambda _code, cp=cp_id: self.details.pop(cp, None))
            self.details[cp_id] = dialog
        else:
            dialog.show_view(self._live_view(cp_id))
            dialog.reload()
        dialog.show()
        dialog.raise_()
        dialog.activateWindow()
        return dialog

    def close(self) -> None:
        """The control center closes: no more queries, the reader's connections closed."""
        if self.reader is not None:
            self.reader.close()

    def cps_changed(self, cps: list[CpView]) -> None:
        """Keep open details' live line (state, price) current."""
        for cp in cps:
            if (dialog := self.details.get(cp.cp_id)) is not None:
                dialog.show_view(cp)
