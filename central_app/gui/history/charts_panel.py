"""The Charts tab: the whole network's energy per hour, simultaneous supplies and states."""

from __future__ import annotations

from datetime import datetime

from PySide6.QtWidgets import QGridLayout, QHBoxLayout, QLabel, QPushButton, QVBoxLayout, QWidget

from central_app.gui.history.charts import EnergyChart, SimultaneousChart, StatesChart
from central_app.gui.history.period import WEEK, PeriodPicker
from central_app.gui.history.reader import LOADING, HistoryReader
from central_app.gui.history.sessions_panel import ERROR_STYLE, failure_text
from central_app.history import History
from wire.timefmt import parse_ts

NOTE_STYLE = "color: #5f6b7a;"
SLICES = 96  # per period: a week in 105-minute slices, a day in 15-minute ones


class ChartsPanel(QWidget):
    def __init__(
        self, history: History | HistoryReader | None, parent: QWidget | None = None
    ) -> None:
        super().__init__(parent)
        self.reader = HistoryReader.of(history, self)
        self.period = PeriodPicker(allow_all=False, initial=WEEK, parent=self)
        refresh = QPushButton("Refresh", self)
        self.note = QLabel(self)
        self.note.setStyleSheet(NOTE_STYLE)
        self.energy = EnergyChart(self)
        self.simultaneous = SimultaneousChart(self)
        self.states = StatesChart(self)
        bar = QHBoxLayout()
        bar.addWidget(QLabel("Period", self))
        bar.addWidget(self.period)
        bar.addWidget(self.note, 1)
        bar.addWidget(refresh)
        grid = QGridLayout()
        grid.addWidget(self.energy, 0, 0)
        grid.addWidget(self.simultaneous, 0, 1)
        grid.addWidget(self.states, 1, 0, 1, 2)
        layout = QVBoxLayout(self)
        layout.addLayout(bar)
        layout.addLayout(grid, 1)
        self.period.changed.connect(self.reload)
        refresh.clicked.connect(self.reload)
        self._loaded = False

    def showEvent(self, event) -> None:  # type: ignore[no-untyped-def]  # noqa: N802
        super().showEvent(event)
        if not self._loaded:  # the charts read a whole period: only when first looked at
            self.reload()

    def reload(self) -> None:
        """Ask for the period's three series (off the GUI thread); the charts keep the last
        ones meanwhile."""
        if self.reader is None:
            return
        since, until = self.period.closed_bounds()
        described = self.period.describe()
        self.note.setStyleSheet(NOTE_STYLE)
        self.note.setText(LOADING)
        self.reader.ask(
            self,
            "charts",
            lambda h: chart_series(h, since, until),
            lambda series: self._show(series, until, described),
            self._show_error,
        )

    def _show(self, series: ChartSeries, until: str, described: str) -> None:
        hours, peaks, (slices, states) = series
        self.energy.show_hours(hours)
        self.simultaneous.show_peaks(peaks)
        self.states.show_states(slices, states, parse_ts(until))
        self._loaded = True
        self.note.setStyleSheet(NOTE_STYLE)
        self.note.setText(f"{described}, UTC")

    def _show_error(self, text: str) -> None:
        self.note.setStyleSheet(NOTE_STYLE + ERROR_STYLE)
        self.note.setText(failure_text(text))


ChartSeries = tuple[
    list[tuple[datetime, float]],
    list[tuple[datetime, int]],
    tuple[list[datetime], dict[str, list[float]]],
]


def chart_series(history: History, since: str, until: str) -> ChartSeries:
    """The Charts tab's three queries, run together on the reader's thread."""
    return (
        history.energy_per_hour(since, until),
        history.simultaneous(since, until, SLICES),
        history.network_states(since, until, SLICES),
    )
