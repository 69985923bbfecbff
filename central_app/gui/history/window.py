"""The History window: Sessions, Per CP and Charts tabs over Central's database."""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QTabWidget, QVBoxLayout, QWidget

from central_app.gui.history.charts_panel import ChartsPanel
from central_app.gui.history.reader import HistoryReader
from central_app.gui.history.report_panel import ReportPanel
from central_app.gui.history.sessions_panel import SessionsPanel
from central_app.history import History


class HistoryWindow(QWidget):
    """A top-level window (the operator keeps the map beside it)."""

    cpActivated = Signal(str)  # noqa: N815 (Qt naming): open this CP's detail

    def __init__(
        self, history: History | HistoryReader | None, parent: QWidget | None = None
    ) -> None:
        super().__init__(parent)
        # one reader thread for the three tabs: their queries run in the order asked
        self.reader = HistoryReader.of(history, self)
        history = self.reader
        self.setWindowTitle("History")
        self.setObjectName("historyWindow")
        self.setWindowFlag(Qt.WindowType.Window, True)  # its own window even with a parent
        self.sessions = SessionsPanel(history, self)
        self.report = ReportPanel(history, self)
        self.charts = ChartsPanel(history, self)
        self.tabs = QTabWidget(self)
        self.tabs.addTab(self.sessions, "Sessions")
        self.tabs.addTab(self.report, "Per CP")
        self.tabs.addTab(self.charts, "Charts")
        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 6, 6, 6)
        layout.addWidget(self.tabs)
        self.sessions.cpActivated.connect(self.cpActivated)
        self.report.cpActivated.connect(self.cpActivated)
        self.resize(1100, 700)
