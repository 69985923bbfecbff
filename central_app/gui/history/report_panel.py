"""The Per CP tab: tickets, kWh, € and faults of every CP over a period (sortable)."""

from __future__ import annotations

from PySide6.QtCore import QSortFilterProxyModel, Qt, Signal
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPushButton,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from central_app.gui.history.period import WEEK, PeriodPicker
from central_app.gui.history.reader import LOADING, HistoryReader
from central_app.gui.history.sessions_panel import ERROR_STYLE, TOTALS_STYLE, failure_text
from central_app.history import CpReport, History
from wire.display import count
from wire.qtmodels import RIGHT, Index, RowsModel

SORT_ROLE = int(Qt.ItemDataRole.UserRole) + 2
SUMMARY_STYLE = TOTALS_STYLE


class CpReportModel(RowsModel):
    HEADERS = ("CP", "Sessions", "kWh", "€", "Times broken")

    def __init__(self, parent=None) -> None:  # type: ignore[no-untyped-def]
        super().__init__(parent)
        self._rows: list[CpReport] = []

    @property
    def rows(self) -> list[CpReport]:
        return self._rows

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole):
        if not index.isValid():
            return None
        r, column = self.rows[index.row()], index.column()
        if role == SORT_ROLE:
            return (r.cp_id, r.sessions, r.kwh, r.eur, r.faults)[column]
        if role == Qt.ItemDataRole.DisplayRole:
            return (r.cp_id, f"{r.sessions:,}", f"{r.kwh:,.1f}", f"{r.eur:,.2f}", str(r.faults))[
                column
            ]
        if role == Qt.ItemDataRole.TextAlignmentRole and column:
            return RIGHT
        return None


class ReportPanel(QWidget):
    cpActivated = Signal(str)  # noqa: N815 (Qt naming)

    def __init__(
        self, history: History | HistoryReader | None, parent: QWidget | None = None
    ) -> None:
        super().__init__(parent)
        self.reader = HistoryReader.of(history, self)
        self.model = CpReportModel(self)
        self.proxy = QSortFilterProxyModel(self)
        self.proxy.setSourceModel(self.model)
        self.proxy.setSortRole(SORT_ROLE)
        self.period = PeriodPicker(allow_all=True, initial=WEEK, parent=self)
        refresh = QPushButton("Refresh", self)
        self.summary = QLabel(self)
        self.summary.setStyleSheet(SUMMARY_STYLE)
        self.table = QTableView(self)
        self.table.setModel(self.proxy)
        self.table.setSortingEnabled(True)
        self.table.sortByColumn(3, Qt.SortOrder.DescendingOrder)
        self.table.verticalHeader().setVisible(False)
        self.table.verticalHeader().setDefaultSectionSize(22)
        self.table.setAlternatingRowColors(True)
        self.table.setShowGrid(False)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Stretch)
        hint = QLabel("Double-click a charging point for its detail.", self)
        hint.setStyleSheet("color: #5f6b7a;")
        bar = QHBoxLayout()
        bar.addWidget(QLabel("Period", self))
        bar.addWidget(self.period)
        bar.addStretch(1)
        bar.addWidget(refresh)
        layout = QVBoxLayout(self)
        layout.addLayout(bar)
        layout.addWidget(self.summary)
        layout.addWidget(self.table, 1)
        layout.addWidget(hint)
        self.period.changed.connect(self.reload)
        refresh.clicked.connect(self.reload)
        self.table.doubleClicked.connect(
            lambda index: self.cpActivated.emit(index.siblingAtColumn(0).data())
        )
        self.reload()

    def reload(self) -> None:
        """Ask for the report (off the GUI thread); the table keeps the last one meanwhile."""
        if self.reader is None:
            return
        since, until = self.period.bounds()
        described = self.period.describe()
        self.summary.setStyleSheet(SUMMARY_STYLE + "color: #5f6b7a;")
        self.summary.setText(LOADING)
        self.reader.ask(
            self,
            "report",
            lambda h: h.cp_report(since, until),
            lambda rows: self._show(rows, described),
            self._show_error,
        )

    def _show(self, rows: list[CpReport], described: str) -> None:
        self.model.set_rows(rows)
        self.summary.setStyleSheet(SUMMARY_STYLE)
        self.summary.setText(
            f"{count(len(rows), 'charging point')}, {described}: "
            f"{count(sum(r.sessions for r in rows), 'session')} · "
            f"{sum(r.kwh for r in rows):,.1f} kWh · {sum(r.eur for r in rows):,.2f} € · "
            f"broken {count(sum(r.faults for r in rows), 'time')}"
        )

    def _show_error(self, text: str) -> None:
        self.summary.setStyleSheet(SUMMARY_STYLE + ERROR_STYLE)
        self.summary.setText(failure_text(text))
