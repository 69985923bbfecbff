"""The driver's "Monthly spending" tab: a table and a bar chart of € per month, CSV export.

The chart is Qt Charts like the control center's; it shows the last 6 months with
tickets (the table has them all). Export writes the selected month's tickets (or all of them with no selection).
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCharts import QChart, QChartView
from PySide6.QtCore import QMargins, Qt
from PySide6.QtGui import QPainter
from PySide6.QtWidgets import (
    QAbstractItemView,
    QFileDialog,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPushButton,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from driver_app.session import TicketInfo
from driver_app.spending import MonthTotal, monthly_totals, tickets_of_month, write_tickets_csv
from wire.display import count
from wire.qtcharts import euro_bars
from wire.qtmodels import RIGHT, Index, RowsModel

CHART_MONTHS = 6


class MonthsModel(RowsModel):
    HEADERS = ("Month", "Charges", "kWh", "€")

    def __init__(self, parent=None) -> None:  # type: ignore[no-untyped-def]
        super().__init__(parent)
        self._rows: list[MonthTotal] = []  # newest first

    @property
    def months(self) -> list[MonthTotal]:
        return self._rows

    def set_months(self, months: list[MonthTotal]) -> None:
        self.set_rows(reversed(months))

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole):
        if not index.isValid():
            return None
        m, column = self.months[index.row()], index.column()
        if role == Qt.ItemDataRole.DisplayRole:
            return (m.label[:3] + m.label[-5:], str(m.charges), f"{m.kwh:.1f}", f"{m.eur:.2f}")[
                column
            ]
        if role == Qt.ItemDataRole.ToolTipRole:
            return f"{m.label}: {count(m.charges, 'charge')}, {m.kwh:.1f} kWh, {m.eur:.2f} €"
        if role == Qt.ItemDataRole.TextAlignmentRole and column:
            return RIGHT
        return None


class SpendingPanel(QWidget):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._tickets: list[TicketInfo] = []
        self.model = MonthsModel(self)
        self.table = QTableView(self)
        self.table.setModel(self.model)
        self.table.verticalHeader().hide()
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        self.table.verticalHeader().setDefaultSectionSize(22)
        self.chart_view = QChartView(self)
        self.chart_view.setRenderHint(QPainter.RenderHint.Antialiasing)
        self.chart_view.setMinimumHeight(170)
        chart = QChart()
        chart.setAnimationOptions(QChart.AnimationOption.NoAnimation)
        chart.legend().hide()
        chart.setTitle("€ per month")
        chart.setMargins(QMargins(2, 2, 2, 2))
        self.chart_view.setChart(chart)
        self.bars = 0  # months in the chart (tests)
        self.export_button = QPushButton("Export CSV…", self)
        self.note = QLabel(self)
        self.note.setObjectName("muted")
        bottom = QHBoxLayout()
        bottom.addWidget(self.note, 1)
        bottom.addWidget(self.export_button)
        layout = QHBoxLayout()
        layout.addWidget(self.table, 2)
        layout.addWidget(self.chart_view, 3)
        outer = QVBoxLayout(self)
        outer.setContentsMargins(0, 0, 0, 0)
        outer.addLayout(layout, 1)
        outer.addLayout(bottom)
        self.export_button.clicked.connect(self._ask_export)
        self.table.selectionModel().selectionChanged.connect(self._sync_button)
        self._sync_button()

    def set_tickets(self, tickets: list[TicketInfo]) -> None:
        selected = self.selected_month()
        self._tickets = list(tickets)
        months = monthly_totals(self._tickets)
        self.model.set_months(months)
        self._draw(months[-CHART_MONTHS:])
        if selected is not None:
            for row, m in enumerate(self.model.months):
                if m.month == selected:
                    self.table.selectRow(row)
        self._sync_button()

    def _draw(self, months: list[MonthTotal]) -> None:
        chart = self.chart_view.chart()
        chart.removeAllSeries()
        for axis in chart.axes():
            chart.removeAxis(axis)
        self.bars = len(months)
        if not months:
            return
        euro_bars(chart, [m.label[:3] for m in months], [m.eur for m in months], "#4dabf7")

    def selected_month(self) -> str | None:
        rows = self.table.selectionModel().selectedRows()
        return self.model.months[rows[0].row()].month if rows else None

    def select_month(self, month: str) -> None:
        for row, m in enumerate(self.model.months):
            if m.month == month:
                self.table.selectRow(row)

    def _sync_button(self, *_args) -> None:  # type: ignore[no-untyped-def]
        month = self.selected_month()
        label = next((m.label for m in self.model.months if m.month == month), None)
        self.export_button.setText(f"Export {label}…" if label else "Export all…")
        self.export_button.setEnabled(bool(self._tickets))

    def export_csv(self, path: Path) -> MonthTotal:
        """The selected month's tickets (all with no selection) to ``path``."""
        with path.open("w", encoding="utf-8", newline="") as out:
            return write_tickets_csv(tickets_of_month(self._tickets, self.selected_month()), out)

    def _ask_export(self) -> None:
        month = self.selected_month() or "all"
        name, _ = QFileDialog.getSaveFileName(
            self, "Export my tickets", str(Path.cwd() / f"tickets-{month}.csv"), "CSV (*.csv)"
        )
        if not name:
            return
        try:
            written = self.export_csv(Path(name))
        except OSError as exc:
            self.note.setText(f"Export failed: {exc.strerror or exc}")
            return
        self.note.setText(
            f"{count(written.charges, 'ticket')}, {written.eur:.2f} € written to {name}"
        )
