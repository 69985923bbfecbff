"""Colours, legends and small painted icons shared by the table, the map and the status bar.

SPEC fixes the operator's colour code: ACTIVE green, STOPPED orange with the legend
"Out of Order", SUPPLYING green (with live kW, € and the driver id), BROKEN red,
DISCONNECTED grey. Keeping it in one module means the table, the status bar and the
legend can never disagree.
"""

from __future__ import annotations

from functools import cache

from PySide6.QtCore import Qt
from PySide6.QtGui import QColor, QIcon, QPainter, QPixmap

from central_app.views import CpStatus, LogLevel, RequestPhase
from citymap.tiles import OperatorStyle

__all__ = [
    "APP_STYLESHEET",
    "LOG_COLOURS",
    "PHASE_COLOURS",
    "STATUS_COLOURS",
    "STATUS_LEGENDS",
    "STATUS_ORDER",
    "dot_icon",
    "status_colour",
    "status_icon",
    "status_legend",
    "status_text_colour",
    "status_tint",
]

#: Order used by legends, the status filter and the status bar counts.
STATUS_ORDER: tuple[CpStatus, ...] = (
    CpStatus.ACTIVE,
    CpStatus.SUPPLYING,
    CpStatus.STOPPED,
    CpStatus.BROKEN,
    CpStatus.DISCONNECTED,
)

# The map's OperatorStyle owns the SPEC palette; the table, legends and status bar reuse it
# so a CP is the same colour everywhere on screen.
STATUS_COLOURS: dict[CpStatus, str] = {
    status: OperatorStyle.COLOURS[status.value][0].name() for status in CpStatus
}

#: Legends shown to the operator (SPEC: STOPPED reads "Out of Order").
STATUS_LEGENDS: dict[CpStatus, str] = {
    status: OperatorStyle.COLOURS[status.value][2] for status in CpStatus
}

#: The Spanish names of the original brief, for tooltips.
STATUS_SPANISH: dict[CpStatus, str] = {
    CpStatus.ACTIVE: "Activado",
    CpStatus.SUPPLYING: "Suministrando",
    CpStatus.STOPPED: "Parado",
    CpStatus.BROKEN: "Averiado",
    CpStatus.DISCONNECTED: "Desconectado",
}

LOG_COLOURS: dict[LogLevel, str] = {
    LogLevel.INFO: "#1f2933",
    LogLevel.WARNING: "#b45f06",
    LogLevel.ERROR: "#c62828",
}

PHASE_COLOURS: dict[RequestPhase, str] = {
    RequestPhase.RECEIVED: "#4a6fa5",
    RequestPhase.AUTHORIZED: "#2f7fc1",
    RequestPhase.SUPPLYING: STATUS_COLOURS[CpStatus.SUPPLYING],
    RequestPhase.FINISHED: "#5f6b7a",
    RequestPhase.DENIED: "#c62828",
    RequestPhase.EXPIRED: "#b45f06",
    RequestPhase.INTERRUPTED: "#c62828",
}

APP_STYLESHEET = """
QMainWindow::separator { width: 4px; height: 4px; background: #d5d9e0; }
QDockWidget { font-weight: 600; }
QDockWidget::title { background: #e9edf2; padding: 5px 8px; border-bottom: 1px solid #d0d5dc; }
QTableView { gridline-color: #e3e6ea; selection-background-color: #2f6fb0;
             selection-color: white; alternate-background-color: #f6f8fa; }
QHeaderView::section { background: #eef1f5; padding: 4px 6px; border: none;
                       border-right: 1px solid #d8dce2; border-bottom: 1px solid #cdd2d9;
                       font-weight: 600; }
QToolBar { spacing: 6px; padding: 4px; border-bottom: 1px solid #d0d5dc; }
QToolButton { padding: 4px 10px; }
QStatusBar { border-top: 1px solid #d0d5dc; }
QStatusBar QLabel { padding: 0 4px; }
QPlainTextEdit { font-family: "DejaVu Sans Mono", monospace; }
"""


def status_colour(status: CpStatus) -> QColor:
    return QColor(STATUS_COLOURS[status])


def status_legend(status: CpStatus) -> str:
    return STATUS_LEGENDS[status]


@cache
def status_tint(status: CpStatus) -> QColor:
    """A pale version of the status colour for cell backgrounds (15% colour on white)."""
    return _mix(status_colour(status), QColor("#ffffff"), 0.17)


@cache
def status_text_colour(status: CpStatus) -> QColor:
    """A dark version of the status colour that stays readable on :func:`status_tint`."""
    return status_colour(status).darker(165)


def _mix(a: QColor, b: QColor, share_a: float) -> QColor:
    share_b = 1.0 - share_a
    return QColor(
        round(a.red() * share_a + b.red() * share_b),
        round(a.green() * share_a + b.green() * share_b),
        round(a.blue() * share_a + b.blue() * share_b),
    )


@cache
def dot_icon(colour: str, size: int = 12) -> QIcon:
    """A filled round dot in ``colour`` (cached: one pixmap per colour and size)."""
    pixmap = QPixmap(size, size)
    pixmap.fill(Qt.GlobalColor.transparent)
    painter = QPainter(pixmap)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    fill = QColor(colour)
    painter.setPen(fill.darker(130))
    painter.setBrush(fill)
    painter.drawEllipse(1, 1, size - 2, size - 2)
    painter.end()
    return QIcon(pixmap)


def status_icon(status: CpStatus, size: int = 12) -> QIcon:
    """The status colour as a dot (table decoration, legends, status bar)."""
    return dot_icon(STATUS_COLOURS[status], size)
