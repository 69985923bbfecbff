"""The status bar's permanent widgets: links (Kafka, database, monitors) and CPs per state.

The left part of the ``QStatusBar`` stays free for transient messages ("Stop sent to CP-07").
"""

from __future__ import annotations

from PySide6.QtWidgets import QHBoxLayout, QLabel, QWidget

from central_app.gui import theme
from central_app.views import CpStatus, LinkStatus

__all__ = ["LinksIndicator", "StateCounts"]

_PILL = (
    "QLabel {{ background: {bg}; color: {fg}; border-radius: 8px; padding: 1px 9px;"
    " font-weight: 600; }}"
)
_GOOD = ("#d3f9d8", "#1b5e20")
_BAD = ("#ffe3e3", "#b71c1c")
_UNKNOWN = ("#e9ecef", "#495057")


def _pill(label: QLabel, text: str, colours: tuple[str, str], tip: str) -> None:
    label.setText(text)
    label.setStyleSheet(_PILL.format(bg=colours[0], fg=colours[1]))
    label.setToolTip(tip)


class LinksIndicator(QWidget):
    """Kafka UP/DOWN, database OK/ERROR, monitors connected, the TCP port."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.kafka = QLabel(self)
        self.kafka.setObjectName("kafkaStatus")
        self.database = QLabel(self)
        self.database.setObjectName("databaseStatus")
        self.monitors = QLabel(self)
        self.monitors.setObjectName("monitorsStatus")
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(6)
        for w in (self.kafka, self.database, self.monitors):
            layout.addWidget(w)
        self.links: LinkStatus | None = None
        _pill(self.kafka, "Kafka …", _UNKNOWN, "Waiting for Central's first link report")
        _pill(self.database, "Database …", _UNKNOWN, "Waiting for Central's first link report")
        self.monitors.setText("Monitors: –")

    def set_links(self, links: LinkStatus) -> None:
        self.links = links
        if links.kafka_up:
            _pill(self.kafka, "Kafka UP", _GOOD, "Connected to the Kafka broker")
        else:
            _pill(
                self.kafka,
                "Kafka DOWN",
                _BAD,
                "Cannot reach the Kafka broker: events are queued and delivered when it is back",
            )
        db_tip = links.database_url or "database"
        if links.database_ok:
            _pill(self.database, "Database OK", _GOOD, db_tip)
        else:
            _pill(self.database, "Database ERROR", _BAD, f"{db_tip}: not reachable")
        port = f" · TCP :{links.tcp_port}" if links.tcp_port else ""
        # a Central of an active/standby pair says which one it is and its role
        role = f" · {links.central_id} {links.role.upper()}" if links.role else ""
        self.monitors.setText(f"Monitors: {links.monitors_connected}{port}{role}")
        self.monitors.setToolTip("Monitors connected to Central (authenticated, heartbeating)")


class StateCounts(QWidget):
    """One coloured dot and a count per CP state, in SPEC order."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(12)
        self.labels: dict[CpStatus, QLabel] = {}
        self.counts: dict[CpStatus, int] = {}
        for status in theme.STATUS_ORDER:
            label = QLabel(self)
            label.setObjectName(f"count{status.value.title()}")
            label.setToolTip(f"{theme.status_legend(status)} ({theme.STATUS_SPANISH[status]})")
            layout.addWidget(label)
            self.labels[status] = label
        self.set_counts(dict.fromkeys(CpStatus, 0))

    def set_counts(self, counts: dict[CpStatus, int]) -> None:
        """Show ``counts``; only the labels whose count changed are re-laid out."""
        old, self.counts = self.counts, {s: counts.get(s, 0) for s in theme.STATUS_ORDER}
        for status, label in self.labels.items():
            n = self.counts[status]
            if old.get(status) == n:
                continue
            colour = theme.STATUS_COLOURS[status]
            label.setText(
                f'<span style="color:{colour}; font-size:14px;">●</span>&nbsp;'
                f"<b>{n}</b>&nbsp;{theme.status_legend(status)}"
            )

    def text(self) -> str:
        """Plain text of the counts (for tests and logs)."""
        return "  ".join(f"{theme.status_legend(s)}={n}" for s, n in self.counts.items())
