"""Charts of the history with Qt Charts: energy per hour, simultaneous supplies, the
network's states over time, and a CP's revenue per day.

Each chart takes its points from :class:`~central_app.history.History` (or plain lists)
and replaces its series wholesale: a week is 168 hourly points, a state chart 96 slices
per status, so no incremental updates are needed. Animations stay off (they would replay
on every period change). Times on the axes are UTC, like the rest of the history.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

from PySide6.QtCharts import (
    QAreaSeries,
    QChart,
    QChartView,
    QDateTimeAxis,
    QLineSeries,
    QValueAxis,
)
from PySide6.QtCore import QDateTime, QMargins, Qt
from PySide6.QtGui import QColor, QFont, QPainter, QPen
from PySide6.QtWidgets import QWidget

from central_app.gui import theme
from central_app.history import DayTotal
from central_app.views import CpStatus
from wire.display import COUNT
from wire.qtcharts import euro_bars, nice_range


def _ms(moment: datetime) -> float:
    """Axis position of a UTC moment. ``QDateTimeAxis`` labels in local time and (in Qt 6.11)
    cannot be told a zone, so the UTC wall clock is placed as a local time: labels read UTC."""
    return moment.astimezone(UTC).replace(tzinfo=None).timestamp() * 1000.0


def _minute(moment: datetime) -> datetime:
    return (moment + timedelta(seconds=30)).replace(second=0, microsecond=0)


def _tick_count(span_h: float) -> int:
    """Ticks on whole days (or 3 hours for a day or less) when the span allows it."""
    if span_h <= 36:
        return 9
    days = round(span_h / 24)
    steps = next((n for n in range(min(days, 10), 1, -1) if days % n == 0), 6)
    return steps + 1


class HistoryChart(QChartView):
    """A chart view with the house look; subclasses fill it with ``show_*``."""

    def __init__(self, title: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        chart = QChart()
        chart.setTitle(title)
        title_font = QFont(chart.titleFont())
        title_font.setPointSizeF(10.5)
        title_font.setBold(True)
        chart.setTitleFont(title_font)
        chart.setAnimationOptions(QChart.AnimationOption.NoAnimation)
        chart.setMargins(QMargins(4, 4, 4, 4))
        chart.legend().setAlignment(Qt.AlignmentFlag.AlignBottom)
        chart.setBackgroundRoundness(4)
        self.setChart(chart)
        self.setRenderHint(QPainter.RenderHint.Antialiasing)
        self.setMinimumSize(360, 220)
        self.points = 0  # data points shown (tests)
        # A QAreaSeries does not own its boundary lines: kept alive here until the next reset.
        self._lines: list[QLineSeries] = []

    def _reset(self) -> QChart:
        chart = self.chart()
        chart.removeAllSeries()
        for axis in chart.axes():
            chart.removeAxis(axis)
        self._lines = []
        self.points = 0
        return chart

    def _time_axes(
        self, chart: QChart, first: datetime, last: datetime, y_title: str
    ) -> tuple[QDateTimeAxis, QValueAxis]:
        # slices are float seconds: 23:59:59.999 must not become the label of a day's tick
        first, last = _minute(first), _minute(last)
        x = QDateTimeAxis()
        span_h = (last - first).total_seconds() / 3600
        x.setFormat("HH:mm" if span_h <= 36 else "dd MMM")
        x.setTickCount(_tick_count(span_h))
        x.setRange(
            QDateTime.fromMSecsSinceEpoch(round(_ms(first))),
            QDateTime.fromMSecsSinceEpoch(round(_ms(last))),
        )
        x.setTitleText("UTC")
        y = QValueAxis()
        y.setTitleText(y_title)
        chart.addAxis(x, Qt.AlignmentFlag.AlignBottom)
        chart.addAxis(y, Qt.AlignmentFlag.AlignLeft)
        return x, y


class EnergyChart(HistoryChart):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__("Energy delivered per hour (kWh)", parent)

    def show_hours(self, hours: Sequence[tuple[datetime, float]]) -> None:
        chart = self._reset()
        if not hours:
            return
        upper = QLineSeries()
        for moment, kwh in hours:  # a step per hour: each hour's energy is flat across it
            upper.append(_ms(moment), kwh)
            upper.append(_ms(moment) + 3_600_000, kwh)
        area = QAreaSeries(upper)
        self._lines.append(upper)
        area.setName("kWh in the hour")
        area.setColor(QColor("#4c9be8"))
        area.setBorderColor(QColor("#1f6fb8"))
        chart.addSeries(area)
        x, y = self._time_axes(chart, hours[0][0], hours[-1][0] + timedelta(hours=1), "kWh")
        nice_range(y, max(k for _, k in hours))
        area.attachAxis(x)
        area.attachAxis(y)
        chart.legend().hide()
        self.points = len(hours)


class SimultaneousChart(HistoryChart):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__("Simultaneous supplies (most at once)", parent)

    def show_peaks(self, peaks: Sequence[tuple[datetime, int]]) -> None:
        chart = self._reset()
        if not peaks:
            return
        line = QLineSeries()
        line.setName("supplies at once")
        width = (peaks[1][0] - peaks[0][0]).total_seconds() * 1000 if len(peaks) > 1 else 3_600_000
        for moment, n in peaks:
            line.append(_ms(moment), n)
            line.append(_ms(moment) + width, n)
        line.setPen(QPen(QColor(theme.STATUS_COLOURS[CpStatus.SUPPLYING]), 2))
        chart.addSeries(line)
        last = peaks[-1][0] + timedelta(milliseconds=width)
        x, y = self._time_axes(chart, peaks[0][0], last, "supplies")
        nice_range(y, max(n for _, n in peaks), COUNT)
        line.attachAxis(x)
        line.attachAxis(y)
        chart.legend().hide()
        self.points = len(peaks)


class StatesChart(HistoryChart):
    """Stacked areas: how many CPs were in each state (time-weighted per slice)."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__("Charging points per state", parent)

    def show_states(
        self,
        slices: Sequence[datetime],
        series: dict[str, list[float]],
        end: datetime | None = None,
    ) -> None:
        """``end``: where the axis stops (the period's end, past the last slice known now),
        so this chart lines up with the others."""
        chart = self._reset()
        if not slices or not series:
            return
        width = (slices[1] - slices[0]).total_seconds() * 1000 if len(slices) > 1 else 3_600_000
        below = [0.0] * len(slices)
        order = [s.value for s in theme.STATUS_ORDER] + sorted(
            set(series) - {s.value for s in CpStatus}
        )
        added = []
        for name in order:
            values = series.get(name)
            if not values or not any(values):
                continue
            lower, upper = QLineSeries(), QLineSeries()
            for i, moment in enumerate(slices):
                top = below[i] + values[i]
                for t in (_ms(moment), _ms(moment) + width):
                    lower.append(t, below[i])
                    upper.append(t, top)
                below[i] = top
            area = QAreaSeries(upper, lower)
            self._lines += (upper, lower)
            try:
                status = CpStatus(name)
                area.setName(theme.STATUS_LEGENDS[status])
                colour = QColor(theme.STATUS_COLOURS[status])
            except ValueError:
                area.setName(name.capitalize())
                colour = QColor("#d0d4da")
            area.setColor(colour)
            area.setBorderColor(colour.darker(115))
            chart.addSeries(area)
            added.append(area)
            self.points += len(slices)
        last = max(slices[-1] + timedelta(milliseconds=width), end or slices[0])
        x, y = self._time_axes(chart, slices[0], last, "charging points")
        nice_range(y, max(below), COUNT)
        for area in added:
            area.attachAxis(x)
            area.attachAxis(y)
        chart.legend().show()


class DailyRevenueChart(HistoryChart):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__("Revenue per day (€)", parent)

    def show_days(self, days: Sequence[DayTotal]) -> None:
        chart = self._reset()
        if not days:
            return
        euro_bars(chart, [d.day[5:] for d in days], [d.eur for d in days], "#4c9be8")
        chart.legend().hide()
        self.points = len(days)
