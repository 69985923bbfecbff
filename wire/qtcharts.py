"""Qt Charts pieces the programs' windows share: a value axis with round ticks, a chart of
€ bars (the control center's revenue per day, the driver's spending per month), and for the
offscreen charts of the benchmarks and campaigns the application they paint with, their
canvas, fonts and PNG file.

Like ``wire.qtfollow`` it imports Qt (PySide6); the rest of ``wire`` does not.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

from PySide6.QtCharts import QBarCategoryAxis, QBarSeries, QBarSet, QChart, QValueAxis
from PySide6.QtCore import Qt
from PySide6.QtGui import QColor, QFont, QGuiApplication, QImage, QPainter
from PySide6.QtWidgets import QApplication

from wire.display import MONEY, axis_ticks

__all__ = ["canvas", "chart_fonts", "euro_bars", "nice_range", "painting_app", "save_png"]


def nice_range(y: QValueAxis, peak: float, kind: str = "") -> None:
    """From 0 to ``peak`` rounded up to round ticks, labelled with the decimals the step
    needs (``kind``: ``COUNT`` or ``MONEY``, see ``wire.display.axis_ticks``): 0.18 €
    reads 0.00, 0.05 … 0.20, two supplies 0, 1, 2 — never one label twice."""
    ticks = axis_ticks(peak, kind)
    y.setRange(0, ticks.top)
    y.setTickType(QValueAxis.TickType.TicksFixed)
    y.setTickCount(ticks.intervals + 1)
    y.setLabelFormat(ticks.label_format)


def euro_bars(chart: QChart, labels: Sequence[str], euros: Sequence[float], colour: str) -> None:
    """One bar of € per label on an emptied ``chart``, on a category axis and a money axis."""
    bars = QBarSet("€")
    bars.setColor(QColor(colour))
    for eur in euros:
        bars.append(eur)
    series = QBarSeries()
    series.append(bars)
    chart.addSeries(series)
    x = QBarCategoryAxis()
    x.append(list(labels))
    y = QValueAxis()
    nice_range(y, max(euros), MONEY)
    chart.addAxis(x, Qt.AlignmentFlag.AlignBottom)
    chart.addAxis(y, Qt.AlignmentFlag.AlignLeft)
    series.attachAxis(x)
    series.attachAxis(y)


def painting_app() -> QGuiApplication:
    """The application a QPainter on a QImage needs (for its fonts), offscreen unless a display
    is chosen. A QApplication, not a bare QGuiApplication: in a process that shows widgets
    later (a test run, on one pytest worker), Qt aborts at the first QWidget of a process
    whose application cannot have widgets."""
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    app = QApplication.instance()
    return app if app is not None else QApplication([])


def canvas(width: int, height: int) -> tuple[QImage, QPainter]:
    """A white ``width`` × ``height`` image and an antialiased painter on it (after
    ``painting_app()``); ``save_png`` ends the painter and writes the image."""
    image = QImage(width, height, QImage.Format.Format_ARGB32)
    image.fill(QColor("white"))
    painter = QPainter(image)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    return image, painter


def chart_fonts(title_size: int) -> tuple[QFont, QFont]:
    """A chart's bold title font of ``title_size`` points and its 9-point small font."""
    title, small = QFont(), QFont()
    title.setPointSize(title_size)
    title.setBold(True)
    small.setPointSize(9)
    return title, small


def save_png(image: QImage, painter: QPainter, output: Path) -> None:
    """End ``painter`` and write ``image`` to ``output`` (its folder made); ``OSError`` when
    Qt cannot write it (Qt only says False)."""
    painter.end()
    output.parent.mkdir(parents=True, exist_ok=True)
    if not image.save(str(output)):
        raise OSError(f"cannot write {output}")
