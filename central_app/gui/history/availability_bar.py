"""A horizontal bar split by the share of time a CP spent in each state, with its legend.

Time before the CP's first recorded state is *no data*, not a state: it is drawn hatched
(grey is the map's Disconnected) and, when the period has records, left out: the bar and
its legend then cover the period from the first record on (:func:`from_first_record`).
"""

from __future__ import annotations

from PySide6.QtCore import QRectF, Qt
from PySide6.QtGui import QBrush, QColor, QPainter, QPaintEvent
from PySide6.QtWidgets import QSizePolicy, QWidget

from central_app.gui import theme
from central_app.history import NO_RECORD
from central_app.views import CpStatus

NO_RECORD_COLOUR = "#d0d4da"  # the hatching's lines, over NO_DATA_BACKGROUND
NO_DATA_BACKGROUND = "#f8f9fa"
NO_DATA = "No data"


def label(status: str) -> str:
    try:
        return theme.STATUS_LEGENDS[CpStatus(status)]
    except ValueError:
        return NO_DATA if status == NO_RECORD else status.capitalize()


def from_first_record(shares: dict[str, float]) -> tuple[dict[str, float], float]:
    """The shares of the time from the first record on (summing to 1), and the fraction of
    the period before it: ``{NO RECORD: 0.75, ACTIVE: 0.25}`` is ``({ACTIVE: 1.0}, 0.75)``.
    Nothing recorded at all: ``({}, 1.0)``."""
    before = shares.get(NO_RECORD, 0.0)
    known = {s: v for s, v in shares.items() if s != NO_RECORD and v > 0}
    total = sum(known.values())
    if total <= 0:
        return {}, 1.0 if shares else 0.0
    return {s: v / total for s, v in known.items()}, before


def colour(status: str) -> QColor:
    try:
        return QColor(theme.STATUS_COLOURS[CpStatus(status)])
    except ValueError:
        return QColor(NO_RECORD_COLOUR)


def ordered(shares: dict[str, float]) -> list[tuple[str, float]]:
    order = [s.value for s in theme.STATUS_ORDER] + [NO_RECORD]
    rest = sorted(set(shares) - set(order))
    return [(s, shares[s]) for s in order + rest if shares.get(s, 0) > 0]


def percent(share: float) -> str:
    """``12.3 %``; a sliver (a CP that connected minutes ago, in a week) reads ``< 0.1 %``."""
    return "< 0.1 %" if share < 0.0005 else f"{share * 100:.1f} %"


def describe(shares: dict[str, float]) -> str:
    return " · ".join(f"{label(s)} {percent(share)}" for s, share in ordered(shares))


class AvailabilityBar(QWidget):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.shares: dict[str, float] = {}
        self.setMinimumHeight(22)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)

    def set_shares(self, shares: dict[str, float]) -> None:
        self.shares = dict(shares)
        self.setToolTip(describe(shares))
        self.update()

    def paintEvent(self, event: QPaintEvent) -> None:  # noqa: N802 (Qt override)
        painter = QPainter(self)
        rect = QRectF(self.rect()).adjusted(0.5, 0.5, -0.5, -0.5)
        painter.fillRect(rect, QColor("#f1f3f5"))
        x = rect.left()
        for status, share in ordered(self.shares):
            width = rect.width() * share
            segment = QRectF(x, rect.top(), width, rect.height())
            if status == NO_RECORD:  # hatched: no data is not a state (nor grey)
                painter.fillRect(segment, QColor(NO_DATA_BACKGROUND))
                painter.fillRect(segment, QBrush(colour(status), Qt.BrushStyle.BDiagPattern))
            else:
                painter.fillRect(segment, colour(status))
            if width > 60:
                text = NO_DATA if status == NO_RECORD else f"{share * 100:.0f} %"
                painter.setPen(QColor("white") if status != NO_RECORD else QColor("#5f6b7a"))
                painter.drawText(segment, Qt.AlignmentFlag.AlignCenter, text)
            x += width
        painter.setPen(QColor("#c0c6ce"))
        painter.drawRect(rect)
