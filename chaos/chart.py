"""A campaign's timeline as a picture: ``python -m chaos.chart LOG OUT.png``.

Read from what ``evc-chaos`` printed (keep it with ``evc-chaos … | tee campaign.log``), not
from its internal state, like the checker: each fault's injection and heal lines, and the
progress line it prints every 10 s. Drawn with QPainter offscreen, as ``fleet.chart``.

Three panels against the campaign's time: one lane per kind of component with a bar per
fault (coloured by kind of fault), the tickets issued and the sessions open, and the CPs
that are not serving (DISCONNECTED, BROKEN, STOPPED) — which is where a fault shows, and
where healing must bring it back.
"""

from __future__ import annotations

import math
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path

WIDTH, HEIGHT = 1400, 760
#: lanes, top to bottom: a component's kind from its campaign name
LANES = ["central", "broker", "postgres", "gateway", "charger", "engine", "monitor", "driver"]
KIND_COLORS = {
    "kill": "#c0392b",
    "pause": "#2471a3",
    "partition": "#7d3c98",
    "pg-restart": "#d68910",
    "disk-readonly": "#229954",
    "disk-full": "#117a65",
}
SERVING = {"ACTIVE", "SUPPLYING"}

_INJECTED = re.compile(r"^chaos: \[t=\s*([\d.]+)s\] #(\d+) (\S+) (.+?): ")
_HEALED = re.compile(r"^chaos: \[t=\s*([\d.]+)s\] #(\d+) healed ")
_PROGRESS = re.compile(
    r"^chaos: t=(\d+)s faults started (\d+)/\d+.*?\| CPs ([^|]*)\| tickets=(\d+) open=(\d+)"
)
_VERDICT = re.compile(r"^(?:chaos: )?verdict: (.*)$")


@dataclass
class Fault:
    index: int
    kind: str
    target: str
    injected: float
    healed: float | None = None

    @property
    def lanes(self) -> list[str]:
        """The lanes of every component the fault acts on (a partition has two sides)."""
        names = re.split(r"[ ,|{}]+", self.target)
        found = [lane for lane in LANES if any(_lane_of(n) == lane for n in names if n)]
        return found or ["driver"]


@dataclass
class Sample:
    t: float
    tickets: int
    open: int
    not_serving: int


@dataclass
class Timeline:
    faults: dict[int, Fault] = field(default_factory=dict)
    samples: list[Sample] = field(default_factory=list)
    verdict: str = ""

    @property
    def end(self) -> float:
        times = [s.t for s in self.samples] + [f.healed or f.injected for f in self.faults.values()]
        return max(times, default=1.0)


def _lane_of(name: str) -> str | None:
    if name.startswith("central"):
        return "central"
    if name.startswith("broker"):
        return "broker"
    if name == "postgres":
        return "postgres"
    if name == "ocpp-gateway":
        return "gateway"
    for prefix, lane in (
        ("ocpp-", "charger"),
        ("engine-", "engine"),
        ("monitor-", "monitor"),
        ("driver-", "driver"),
    ):
        if name.startswith(prefix):
            return lane
    return None


def read_log(text: str) -> Timeline:
    """The timeline of one campaign's printed output."""
    timeline = Timeline()
    for line in text.splitlines():
        if m := _HEALED.match(line):
            fault = timeline.faults.get(int(m[2]))
            if fault is not None:
                fault.healed = float(m[1])
        elif ": FAILED" in line:
            continue  # never injected (the campaign says why)
        elif m := _INJECTED.match(line):
            t, index, kind, target = float(m[1]), int(m[2]), m[3], m[4]
            if kind in KIND_COLORS:
                timeline.faults.setdefault(index, Fault(index, kind, target, t))
        elif m := _PROGRESS.match(line):
            states = dict(re.findall(r"(\w+)=(\d+)", m[3]))
            down = sum(int(v) for k, v in states.items() if k not in SERVING)
            timeline.samples.append(Sample(float(m[1]), int(m[4]), int(m[5]), down))
        elif m := _VERDICT.match(line):
            timeline.verdict = m[1]
    return timeline


def draw(timeline: Timeline, output: Path, title: str) -> None:
    from PySide6.QtCore import QPointF, QRectF, Qt
    from PySide6.QtGui import QColor, QPen

    from wire.qtcharts import canvas, chart_fonts, painting_app, save_png

    painting_app()
    image, painter = canvas(WIDTH, HEIGHT)
    big, small = chart_fonts(13)
    left, right = 110.0, WIDTH - 30.0
    end = timeline.end

    def x_of(t: float) -> float:
        return left + (right - left) * t / end

    painter.setFont(big)
    painter.setPen(QColor("#222"))
    painter.drawText(QRectF(0, 8, WIDTH, 28), Qt.AlignmentFlag.AlignCenter, title)
    painter.setFont(small)
    painter.setPen(QColor("#444"))
    painter.drawText(
        QRectF(0, 34, WIDTH, 18), Qt.AlignmentFlag.AlignCenter, timeline.verdict or "no verdict"
    )

    # time grid shared by the panels
    step = 10 ** math.floor(math.log10(end)) if end >= 10 else 1.0
    if end / step < 4:
        step /= 2
    grid = QPen(QColor("#e2e2e2"))

    def frame(top: float, height: float, heading: str) -> QRectF:
        rect = QRectF(left, top, right - left, height)
        t = 0.0
        while t <= end + 1e-9:
            painter.setPen(grid)
            painter.drawLine(QPointF(x_of(t), rect.top()), QPointF(x_of(t), rect.bottom()))
            t += step
        painter.setPen(QPen(QColor("#888")))
        painter.drawRect(rect)
        painter.setPen(QColor("#222"))
        painter.drawText(
            QRectF(left, top - 18, right - left, 16), Qt.AlignmentFlag.AlignLeft, heading
        )
        return rect

    # 1. the faults, a lane per kind of component
    lanes = frame(80, 300, f"faults injected ({len(timeline.faults)}), by component and kind")
    lane_h = lanes.height() / len(LANES)
    for i, lane in enumerate(LANES):
        painter.setPen(QColor("#444"))
        painter.drawText(
            QRectF(0, lanes.top() + i * lane_h, left - 8, lane_h),
            Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter,
            lane,
        )
    for fault in timeline.faults.values():
        color = QColor(KIND_COLORS[fault.kind])
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(color)
        healed = fault.healed if fault.healed is not None else end
        width = max(2.0, x_of(healed) - x_of(fault.injected))
        for lane in fault.lanes:
            i = LANES.index(lane)
            row = lanes.top() + i * lane_h + 4 + (fault.index % 3) * (lane_h - 8) / 3
            painter.drawRect(QRectF(x_of(fault.injected), row, width, (lane_h - 8) / 3 - 1))
    painter.setBrush(Qt.BrushStyle.NoBrush)
    legend_x = left
    for kind, color in KIND_COLORS.items():
        n = sum(1 for f in timeline.faults.values() if f.kind == kind)
        painter.setPen(QPen(QColor(color), 8))
        painter.drawLine(QPointF(legend_x, 398), QPointF(legend_x + 16, 398))
        painter.setPen(QColor("#333"))
        painter.drawText(
            QRectF(legend_x + 22, 390, 170, 16), Qt.AlignmentFlag.AlignLeft, f"{kind} ({n})"
        )
        legend_x += 190

    def curve(rect: QRectF, values: list[tuple[float, float]], hi: float, color: str) -> None:
        painter.setPen(QPen(QColor(color), 2))
        points = [QPointF(x_of(t), rect.bottom() - rect.height() * v / hi) for t, v in values]
        for a, b in zip(points, points[1:], strict=False):
            painter.drawLine(a, b)

    def y_labels(rect: QRectF, hi: float) -> None:
        painter.setPen(QColor("#444"))
        for v in (0.0, hi / 2, hi):
            y = rect.bottom() - rect.height() * v / hi
            painter.drawText(
                QRectF(0, y - 8, left - 8, 16),
                Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter,
                f"{v:g}",
            )

    samples = timeline.samples
    # 2. the books: tickets issued (cumulative) and sessions open
    books = frame(440, 130, "tickets issued (red, cumulative) and sessions open (blue)")
    hi = max([s.tickets for s in samples] + [1])
    y_labels(books, hi)
    curve(books, [(s.t, s.tickets) for s in samples], hi, "#c0392b")
    curve(books, [(s.t, s.open) for s in samples], hi, "#2471a3")
    # 3. the CPs that are not serving
    down = frame(610, 100, "CPs not serving at Central (DISCONNECTED, BROKEN, STOPPED), every 10 s")
    hi_down = max([s.not_serving for s in samples] + [1])
    y_labels(down, hi_down)
    curve(down, [(s.t, s.not_serving) for s in samples], hi_down, "#7d3c98")
    painter.setPen(QColor("#444"))
    t = 0.0
    while t <= end + 1e-9:
        painter.drawText(
            QRectF(x_of(t) - 40, down.bottom() + 4, 80, 16),
            Qt.AlignmentFlag.AlignCenter,
            f"{t:g} s",
        )
        t += step
    save_png(image, painter, output)


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) not in (2, 3):
        print("usage: python -m chaos.chart CAMPAIGN.log OUT.png [TITLE]", file=sys.stderr)
        return 2
    log, out = Path(args[0]), Path(args[1])
    try:
        timeline = read_log(log.read_text(errors="replace"))
    except OSError as exc:
        print(f"chaos.chart: cannot read {log}: {exc}", file=sys.stderr)
        return 2
    if not timeline.faults:
        print(f"chaos.chart: {log} holds no fault lines of evc-chaos", file=sys.stderr)
        return 2
    title = args[2] if len(args) == 3 else f"evc-chaos campaign: {log.name}"
    draw(timeline, out, title)
    print(f"chaos.chart: {len(timeline.faults)} faults, {len(timeline.samples)} samples -> {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
