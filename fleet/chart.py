"""``evc-fleet chart``: heartbeat p99 and Central CPU against N, drawn with QPainter offscreen.

One series per results file (e.g. "before" and "after"); the x axis is logarithmic in N, the
p99 axis too (the figures span milliseconds to seconds), CPU is linear (% of one core).
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

COLORS = ["#c0392b", "#2471a3", "#229954", "#7d3c98"]
WIDTH, HEIGHT = 1200, 520


def _series(document: dict[str, Any]) -> tuple[str, list[tuple[int, float | None, float | None]]]:
    points = []
    for r in document.get("scenarios", []):
        steady = r.get("steady") or {}
        if not steady:
            continue
        p99 = ((steady.get("heartbeats") or {}).get("latency") or {}).get("p99_ms")
        points.append((int(r["cps"]), p99, steady.get("central_cpu_mean")))
    points.sort()
    label = document.get("label") or (document.get("scenarios") or [{}])[0].get("label") or "run"
    return label, points


def draw_chart(documents: list[dict[str, Any]], output: Path) -> None:
    from PySide6.QtCore import QPointF, QRectF, Qt
    from PySide6.QtGui import QColor, QPen

    from wire.qtcharts import canvas, chart_fonts, painting_app, save_png

    painting_app()
    series = [_series(d) for d in documents]
    all_n = [n for _, pts in series for n, _, _ in pts]
    if not all_n:
        raise ValueError("no steady-state figures in the results")
    n_lo, n_hi = min(all_n) / 1.3, max(all_n) * 1.3
    p99s = [p for _, pts in series for _, p, _ in pts if p]
    p_lo = 10 ** math.floor(math.log10(max(min(p99s), 0.1))) if p99s else 1.0
    p_hi = 10 ** math.ceil(math.log10(max(p99s))) if p99s else 1000.0
    if p_hi <= p_lo:
        p_hi = p_lo * 10
    cpus = [c for _, pts in series for _, _, c in pts if c is not None]
    c_hi = max(100.0, math.ceil(max(cpus, default=100.0) / 50.0) * 50.0)

    image, painter = canvas(WIDTH, HEIGHT)
    title, small = chart_fonts(13)

    def panel(
        left: float, heading: str, value: Any, lo: float, hi: float, log_y: bool, unit: str
    ) -> None:
        plot = QRectF(left + 70, 60, WIDTH / 2 - 110, HEIGHT - 140)

        def x_of(n: float) -> float:
            f = (math.log10(n) - math.log10(n_lo)) / (math.log10(n_hi) - math.log10(n_lo))
            return plot.left() + f * plot.width()

        def y_of(v: float) -> float:
            if log_y:
                v = max(v, lo)
                f = (math.log10(v) - math.log10(lo)) / (math.log10(hi) - math.log10(lo))
            else:
                f = (v - lo) / (hi - lo)
            return plot.bottom() - f * plot.height()

        painter.setFont(title)
        painter.setPen(QColor("#222"))
        painter.drawText(QRectF(left, 15, WIDTH / 2, 30), Qt.AlignmentFlag.AlignCenter, heading)
        painter.setFont(small)
        grid = QPen(QColor("#ddd"))
        ticks = []
        if log_y:
            e = math.log10(lo)
            while e <= math.log10(hi) + 1e-9:
                ticks.append(10**e)
                e += 1
        else:
            step = 25.0 if hi <= 200 else 50.0
            ticks = [step * i for i in range(int(hi / step) + 1)]
        for t in ticks:
            y = y_of(t)
            painter.setPen(grid)
            painter.drawLine(QPointF(plot.left(), y), QPointF(plot.right(), y))
            painter.setPen(QColor("#444"))
            label = f"{t:g} {unit}"
            painter.drawText(
                QRectF(left, y - 8, 65, 16),
                Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter,
                label,
            )
        for n in sorted(set(all_n)):
            x = x_of(n)
            painter.setPen(grid)
            painter.drawLine(QPointF(x, plot.top()), QPointF(x, plot.bottom()))
            painter.setPen(QColor("#444"))
            painter.drawText(
                QRectF(x - 40, plot.bottom() + 4, 80, 16), Qt.AlignmentFlag.AlignCenter, f"{n:,}"
            )
        painter.drawText(
            QRectF(plot.left(), plot.bottom() + 22, plot.width(), 16),
            Qt.AlignmentFlag.AlignCenter,
            "CPs (N), log scale",
        )
        painter.setPen(QPen(QColor("#888")))
        painter.drawRect(plot)
        for index, (label, pts) in enumerate(series):
            color = QColor(COLORS[index % len(COLORS)])
            painter.setPen(QPen(color, 2.5))
            painter.setBrush(color)
            xy = [(x_of(n), y_of(v)) for n, *rest in pts if (v := value(rest)) is not None]
            for (x1, y1), (x2, y2) in zip(xy, xy[1:], strict=False):
                painter.drawLine(QPointF(x1, y1), QPointF(x2, y2))
            for x, y in xy:
                painter.drawEllipse(QPointF(x, y), 4.5, 4.5)
            for n, *rest in pts:
                if value(rest) is None:  # e.g. no CP authenticated: nothing to measure
                    painter.drawText(
                        QRectF(x_of(n) - 60, plot.top() + 4 + 16 * index, 120, 16),
                        Qt.AlignmentFlag.AlignCenter,
                        "× no answers",
                    )
            painter.drawText(
                QRectF(plot.left() + 10, plot.top() + 8 + 18 * index, 200, 16),
                Qt.AlignmentFlag.AlignLeft,
                f"● {label}",
            )
        painter.setBrush(Qt.BrushStyle.NoBrush)

    panel(0, "Heartbeat p99 (request → response)", lambda r: r[0], p_lo, p_hi, True, "ms")
    panel(WIDTH / 2, "Central CPU, mean (% of one core)", lambda r: r[1], 0.0, c_hi, False, "%")
    painter.setFont(small)
    painter.setPen(QColor("#666"))
    painter.drawText(
        QRectF(0, HEIGHT - 28, WIDTH, 20),
        Qt.AlignmentFlag.AlignCenter,
        "evc-fleet: 1 Hz heartbeats, 20 % of the CPs supplying; broker, Central and generator on one machine",
    )
    save_png(image, painter, output)
