"""The Charts tab: the whole network's energy per hour, simultaneous supplies and states."""

from __future__ import annotations

from PySide6.QtWidgets import QGridLayout, QHBoxLayout, QLabel, QPushButton, QVBoxLayout, QWidget

from central_app.db import DatabaseError
from central_app.gui.history.charts import EnergyChart, SimultaneousChart, StatesChart
from central_app.gui.history.period import WEEK, PeriodPicker
from central_app.history import History
from wire.timefmt import parse_ts

SLICES = 96  # per period: a week in 105-minute slices, a day in 15-minute ones


class ChartsPanel(QWidget):
    def __init__(self, history: History | None, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.history = history
        self.period = PeriodPicker(allow_all=False, initial=WEEK, parent=self)
        refresh = QPushButton("Refresh", self)
        self.note = QLabel(self)
        self.note.setStyleSheet("color: #5f6b7a;")
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
        if self.history is None:
            return
        since, until = self.period.closed_bounds()
        try:
            self.energy.show_hours(self.history.energy_per_hour(since, until))
            self.simultaneous.show_peaks(self.history.simultaneous(since, until, SLICES))
            slices, series = self.history.network_states(since, until, SLICES)
            self.states.show_states(slices, series, parse_ts(until))
        except DatabaseError as exc:
            self.note.setText(str(exc))
            return
        self._loaded = True
        self.note.setText(f"{self.period.describe()}, UTC")
