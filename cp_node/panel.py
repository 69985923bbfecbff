"""The technician panel: one window per CP, shown by the engine process.

It combines both modules' views: the engine's own state, meter and fault switch, and the
monitor's view (Central link, admin state) as the monitor relays it in every HEALTH. The
panel reads ``EngineService.view()`` and drains its message log on a 200 ms ``QTimer`` in the
GUI thread; the service's threads never touch Qt. Every line of the log is also written to
``echo`` (stdout: the engine's log file under ``make run``), with or without the window.
"""

from __future__ import annotations

import sys
import threading
from typing import TextIO

from PySide6.QtCore import Qt, QTimer
from PySide6.QtGui import QFont, QFontDatabase
from PySide6.QtWidgets import (
    QApplication,
    QFrame,
    QGridLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from cp_node.console import echo_lines
from cp_node.engine_service import EngineService, EngineView
from cp_node.texts import health_label, kafka_label, link_label, state_label, state_tone
from wire.health_messages import EngineState
from wire.qtfollow import FollowEnd

REFRESH_MS = 200

TONES = {
    "green": ("#1e7d32", "#e8f5e9"),
    "blue": ("#1565c0", "#e3f2fd"),
    "orange": ("#e65100", "#fff3e0"),
    "red": ("#c62828", "#ffebee"),
    "grey": ("#546e7a", "#eceff1"),
}

STYLE = """
QWidget#panel { background: #fafafa; }
QGroupBox { font-weight: 600; border: 1px solid #d0d7de; border-radius: 6px;
            margin-top: 14px; padding: 8px 8px 6px 8px; background: white; }
QGroupBox::title { subcontrol-origin: margin; left: 10px; padding: 0 4px; color: #37474f; }
QLabel.key { color: #607d8b; }
QFrame#meter { border: 1px solid #d0d7de; border-radius: 6px; background: white; }
QPushButton { padding: 6px 12px; border-radius: 4px; border: 1px solid #b0bec5;
              background: #eceff1; }
QPushButton:hover:enabled { background: #e0e6ea; }
QPushButton:disabled { color: #a0a8ad; background: #f3f5f6; border-color: #dde3e6; }
QPushButton#primary:enabled { background: #1e7d32; color: white; border-color: #1b5e20; }
QPushButton#danger:enabled { background: #c62828; color: white; border-color: #8e0000; }
QPlainTextEdit { background: #263238; color: #eceff1; border-radius: 4px; }
"""


class Meter(QFrame):
    """One big number with its unit underneath."""

    def __init__(self, unit: str) -> None:
        super().__init__()
        self.setObjectName("meter")
        layout = QVBoxLayout(self)
        layout.setContentsMargins(10, 6, 10, 6)
        self.value = QLabel("–")
        font = QFont()
        font.setPointSize(20)
        font.setBold(True)
        self.value.setFont(font)
        self.value.setAlignment(Qt.AlignmentFlag.AlignCenter)
        caption = QLabel(unit)
        caption.setAlignment(Qt.AlignmentFlag.AlignCenter)
        caption.setStyleSheet("color: #607d8b;")
        layout.addWidget(self.value)
        layout.addWidget(caption)


class EnginePanel(QWidget):
    def __init__(
        self,
        service: EngineService,
        stop: threading.Event | None = None,
        *,
        echo: TextIO | None = None,
    ) -> None:
        super().__init__()
        self.service = service
        self.stop = stop or threading.Event()
        self.echo = echo  # where the log's lines go too (run_panel: stdout), or None
        self.setObjectName("panel")
        self.setAttribute(Qt.WidgetAttribute.WA_StyledBackground, True)
        self._tone = ""
        self.setStyleSheet(STYLE)
        self.setMinimumWidth(520)
        root = QVBoxLayout(self)
        root.setSpacing(8)

        header = QHBoxLayout()
        self.title = QLabel("Charging point")
        title_font = QFont()
        title_font.setPointSize(16)
        title_font.setBold(True)
        self.title.setFont(title_font)
        self.badge = QLabel()
        self.badge.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.badge.setMinimumWidth(170)
        header.addWidget(self.title, 1)
        header.addWidget(self.badge)
        root.addLayout(header)

        status = QGroupBox("Status")
        grid = QGridLayout(status)
        grid.setColumnStretch(1, 1)
        grid.setColumnStretch(3, 1)
        self.fields: dict[str, QLabel] = {}
        rows = [
            ("central", "Central link"),
            ("engine", "Engine health"),
            ("kafka", "Kafka"),
            ("price", "Price"),
            ("driver", "Driver"),
            ("power", "Rated power"),
        ]
        for i, (key, text) in enumerate(rows):
            name = QLabel(text + ":")
            name.setProperty("class", "key")
            value = QLabel("–")
            value.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
            self.fields[key] = value
            row, col = divmod(i, 2)
            grid.addWidget(name, row, col * 2)
            grid.addWidget(value, row, col * 2 + 1)
        root.addWidget(status)

        meters = QHBoxLayout()
        self.kw, self.kwh, self.eur = Meter("kW"), Meter("kWh"), Meter("EUR")
        for meter in (self.kw, self.kwh, self.eur):
            meters.addWidget(meter)
        root.addLayout(meters)

        actions = QGroupBox("Technician")
        box = QGridLayout(actions)
        self.plug_button = QPushButton("Plug in")
        self.plug_button.setObjectName("primary")
        self.unplug_button = QPushButton("Unplug")
        self.driver_edit = QLineEdit()
        self.driver_edit.setPlaceholderText(f"driver id (default {service.manual_driver})")
        self.manual_button = QPushButton("Manual supply")
        self.break_button = QPushButton("Break (KO)")
        self.break_button.setObjectName("danger")
        self.repair_button = QPushButton("Repair (OK)")
        self.repair_button.setObjectName("primary")
        box.addWidget(self.plug_button, 0, 0)
        box.addWidget(self.unplug_button, 0, 1)
        box.addWidget(self.break_button, 0, 2)
        box.addWidget(self.repair_button, 0, 3)
        box.addWidget(self.driver_edit, 1, 0, 1, 3)
        box.addWidget(self.manual_button, 1, 3)
        self.notice = QLabel(" ")
        self.notice.setWordWrap(True)
        self.notice.setStyleSheet("color: #37474f; font-style: italic;")
        box.addWidget(self.notice, 2, 0, 1, 4)
        root.addWidget(actions)

        self.log = QPlainTextEdit()
        self.log.setReadOnly(True)
        self.log.setMaximumBlockCount(1000)
        self.log.setFont(QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont))
        self.log.setMinimumHeight(140)
        self.follow = FollowEnd(self.log)  # new lines stay in sight unless scrolled up
        log_box = QGroupBox("Messages")
        QVBoxLayout(log_box).addWidget(self.log)
        root.addWidget(log_box, 1)

        self.plug_button.clicked.connect(lambda: self._do(service.plug))
        self.unplug_button.clicked.connect(lambda: self._do(service.unplug))
        self.break_button.clicked.connect(lambda: self._do(service.break_engine))
        self.repair_button.clicked.connect(lambda: self._do(service.repair))
        self.manual_button.clicked.connect(
            lambda: self._do(lambda: service.manual_request(self.driver_edit.text()))
        )
        self.driver_edit.returnPressed.connect(self.manual_button.click)

        self.timer = QTimer(self)
        self.timer.timeout.connect(self.refresh)
        self.timer.start(REFRESH_MS)
        self.refresh()

    def _do(self, action) -> None:
        self.notice.setText(action())
        self.refresh()

    def refresh(self) -> None:
        if self.stop.is_set():
            self.close()
            return
        lines = self.service.drain_log()
        for line in lines:
            self.log.appendPlainText(line)
        if self.echo is not None:
            echo_lines(lines, self.echo)
        self.show_view(self.service.view())

    def show_view(self, view: EngineView) -> None:
        m = view.machine
        # no id yet: the badge says "Waiting for monitor" (a longer title was cut)
        self.title.setText(f"Charging point {m.cp_id}" if m.cp_id else "Charging point")
        self.setWindowTitle(f"EV_CP {m.cp_id or ''} — technician panel".replace("  ", " "))
        fg, bg = TONES[state_tone(view)]
        label = state_label(view)
        if m.state == EngineState.AUTHORIZED and m.auth_seconds_left is not None:
            label += f" ({m.auth_seconds_left:.0f} s)"
        self.badge.setText(label)
        if fg != self._tone:  # restyling is costly; only on a change of colour
            self._tone = fg
            self.badge.setStyleSheet(
                f"color: white; background: {fg}; border-radius: 12px; padding: 5px 14px;"
                "font-weight: 700; font-size: 13px;"
            )
            self.setStyleSheet(STYLE + f"QWidget#panel {{ background: {bg}; }}")
        self._field(
            "central", link_label(view), bad=link_label(view).startswith(("Cannot", "Unknown"))
        )
        self._field("engine", health_label(view), bad=m.fault)
        self._field("kafka", kafka_label(view), bad=not view.kafka_up or view.key_waiting)
        self._field("price", f"{m.price:.2f} EUR/kWh" if m.price is not None else "–")
        self._field("driver", m.driver_id or "–")
        self._field("power", f"{m.power_kw:.1f} kW")
        supplying = m.state == EngineState.SUPPLYING
        self.kw.value.setText(f"{m.kw:.1f}" if supplying else "0.0")
        self.kwh.value.setText(f"{m.kwh:.3f}")
        self.eur.value.setText(f"{m.eur:.2f}")
        self.plug_button.setEnabled(m.state == EngineState.AUTHORIZED and not m.fault)
        self.unplug_button.setEnabled(supplying)
        self.break_button.setEnabled(not m.fault)
        self.repair_button.setEnabled(m.fault)

    def _field(self, key: str, text: str, *, bad: bool = False) -> None:
        label = self.fields[key]
        label.setText(text)
        label.setStyleSheet("color: #c62828; font-weight: 600;" if bad else "color: #263238;")


def run_panel(
    service: EngineService,
    stop: threading.Event,
    *,
    title_hint: str = "",
    geometry: tuple[int, int, int, int] | None = None,
) -> None:
    """``geometry``: (width, height, x, y) of the window (``--geometry``), else 600x640."""
    app = QApplication.instance() or QApplication([])
    panel = EnginePanel(service, stop, echo=sys.stdout)
    width, height, *at = geometry or (600, 640)
    panel.resize(width, height)
    if at:
        panel.move(*at)
    panel.show()
    app.exec()
