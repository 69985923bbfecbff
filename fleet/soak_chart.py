"""The soak's chart: Central's RSS, open files, heartbeat p99 and request latency against
time, four panels drawn with QPainter offscreen as ``evc-fleet chart`` (fleet/chart.py). The
end of the warm-up is a dashed line, the medians the verdict compares are the dotted levels."""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

WIDTH, HEIGHT = 1200, 760
COLORS = ["#c0392b", "#2471a3", "#229954", "#7d3c98"]

# (title, unit, [(sample key, legend)])
PANELS: list[tuple[str, str, list[tuple[str, str]]]] = [
    ("Central RSS (Central and its children)", "MB", [("rss_mb", "RSS")]),
    (
        "Central's open files",
        "",
        [("open_files", "all"), ("sockets", "sockets"), ("pipes", "pipes"), ("files", "files")],
    ),
    ("Heartbeat p99 (per sample window)", "ms", [("hb_p99_ms", "p99")]),
    (
        "Request → authorized (per sample window)",
        "ms",
        [("req_p50_ms", "p50"), ("req_p99_ms", "p99")],
    ),
]


def _nice_top(value: float) -> float:
    if value <= 0:
        return 1.0
    step = 10 ** math.floor(math.log10(value))
    for m in (1, 2, 2.5, 5, 10):
        if m * step >= value * 1.1:
            return m * step
    return 10 * step


def draw_soak_chart(document: dict[str, Any], output: Path) -> None:
    from PySide6.QtCore import QPointF, QRectF, Qt
    from PySide6.QtGui import QColor, QPen

    from wire.qtcharts import canvas, chart_fonts, painting_app, save_png

    painting_app()
    samples: Sequence[dict[str, Any]] = document["samples"]
    if not samples:
        raise ValueError("no soak samples to draw")
    verdict = document.get("verdict") or {}
    warmup = float(verdict.get("warmup_s", 0.0))
    t_hi = max(float(s["t"]) for s in samples) or 1.0
    minutes = t_hi >= 600

    image, painter = canvas(WIDTH, HEIGHT)
    title, small = chart_fonts(12)

    def panel(box: QRectF, heading: str, unit: str, series: list[tuple[str, str]]) -> None:
        plot = QRectF(box.left() + 75, box.top() + 40, box.width() - 100, box.height() - 90)
        values = [s[k] for k, _ in series for s in samples if s.get(k) is not None]
        hi = _nice_top(1.3 * max(values, default=1.0))  # room for the legend

        def x_of(t: float) -> float:
            return plot.left() + t / t_hi * plot.width()

        def y_of(v: float) -> float:
            return plot.bottom() - v / hi * plot.height()

        painter.setFont(title)
        painter.setPen(QColor("#222"))
        painter.drawText(
            QRectF(box.left(), box.top() + 8, box.width(), 26),
            Qt.AlignmentFlag.AlignCenter,
            heading,
        )
        painter.setFont(small)
        grid = QPen(QColor("#ddd"))
        for i in range(5):
            v = hi * i / 4
            painter.setPen(grid)
            painter.drawLine(QPointF(plot.left(), y_of(v)), QPointF(plot.right(), y_of(v)))
            painter.setPen(QColor("#444"))
            painter.drawText(
                QRectF(box.left(), y_of(v) - 8, 70, 16),
                Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter,
                f"{v:g} {unit}".strip(),
            )
        for i in range(5):
            t = t_hi * i / 4
            painter.drawText(
                QRectF(x_of(t) - 40, plot.bottom() + 4, 80, 16),
                Qt.AlignmentFlag.AlignCenter,
                f"{t / 60:.3g} min" if minutes else f"{t:.3g} s",
            )
        painter.setPen(QPen(QColor("#888")))
        painter.drawRect(plot)
        if 0 < warmup < t_hi:
            painter.setPen(QPen(QColor("#999"), 1.5, Qt.PenStyle.DashLine))
            painter.drawLine(
                QPointF(x_of(warmup), plot.top()), QPointF(x_of(warmup), plot.bottom())
            )
            painter.drawText(
                QRectF(x_of(warmup) + 4, plot.bottom() - 18, 120, 16),
                Qt.AlignmentFlag.AlignLeft,
                "end of warm-up",
            )
        for index, (key, legend) in enumerate(series):
            color = QColor(COLORS[index % len(COLORS)])
            painter.setPen(QPen(color, 2.0))
            painter.setBrush(color)
            xy = [(x_of(s["t"]), y_of(s[key])) for s in samples if s.get(key) is not None]
            for (x1, y1), (x2, y2) in zip(xy, xy[1:], strict=False):
                painter.drawLine(QPointF(x1, y1), QPointF(x2, y2))
            for x, y in xy:
                painter.drawEllipse(QPointF(x, y), 2.5, 2.5)
            grown = (verdict.get("growth") or {}).get(key)
            text = f"● {legend}"
            if grown is not None and grown.get("pct") is not None:
                text += f"  {grown['pct']:+.1f} % after warm-up"
                painter.setPen(QPen(color, 1.0, Qt.PenStyle.DotLine))
                for level in (grown["first"], grown["last"]):
                    painter.drawLine(
                        QPointF(x_of(warmup), y_of(level)), QPointF(plot.right(), y_of(level))
                    )
            painter.setPen(color)
            painter.drawText(
                QRectF(plot.left() + 8, plot.top() + 20 + 16 * index, 320, 16),
                Qt.AlignmentFlag.AlignLeft,
                text,
            )
        painter.setBrush(Qt.BrushStyle.NoBrush)

    half_w, half_h = WIDTH / 2, (HEIGHT - 40) / 2
    for index, (heading, unit, series) in enumerate(PANELS):
        box = QRectF((index % 2) * half_w, (index // 2) * half_h, half_w, half_h)
        panel(box, heading, unit, series)
    painter.setFont(small)
    painter.setPen(QColor("#666"))
    passed = verdict.get("passed")
    painter.drawText(
        QRectF(0, HEIGHT - 32, WIDTH, 24),
        Qt.AlignmentFlag.AlignCenter,
        f"evc-fleet soak: {document.get('cps')} CPs, {t_hi:.0f} s, a sample every "
        f"{document.get('sample_every_s'):g} s; resources' growth after the warm-up "
        f"< {verdict.get('bound_pct', 5.0):g} %: " + ("PASS" if passed else "FAIL"),
    )
    save_png(image, painter, output)
