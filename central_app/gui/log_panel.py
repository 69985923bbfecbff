"""The application messages log: what Central did and why, newest at the bottom.

Entries come from the core (through the bridge) and from the GUI itself (e.g. "Stop failed").
They are batched like the CP model (appending to a text document line by line at a high rate
is what makes log views stutter) and the document is capped at ``max_lines`` blocks, so a long
run never grows memory or slows scrolling. Levels are coloured; a level filter hides the
chatter when the operator is hunting for a warning.
"""

from __future__ import annotations

from collections import deque

from PySide6.QtCore import QTimer
from PySide6.QtGui import QColor, QFont, QTextCharFormat, QTextCursor
from PySide6.QtWidgets import (
    QComboBox,
    QHBoxLayout,
    QLabel,
    QPlainTextEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from central_app.gui import theme
from central_app.gui.bridge import LogBatch
from central_app.views import LogEntry, LogLevel
from wire.timefmt import local_time

__all__ = ["LogPanel"]

_LEVEL_RANK = {LogLevel.INFO: 0, LogLevel.WARNING: 1, LogLevel.ERROR: 2}
_LEVEL_TAGS = {LogLevel.INFO: "INFO ", LogLevel.WARNING: "WARN ", LogLevel.ERROR: "ERROR"}


class LogPanel(QWidget):
    """A read-only, capped, level-coloured log with a minimum-level filter."""

    def __init__(self, parent=None, *, max_lines: int = 2000, flush_interval_ms: int = 200):
        super().__init__(parent)
        self._entries: deque[LogEntry] = deque(maxlen=max_lines)
        self._max_lines = max_lines
        self._pending: list[LogEntry] = []
        self._min_rank = 0

        self.view = QPlainTextEdit(self)
        self.view.setReadOnly(True)
        self.view.setMaximumBlockCount(max_lines)
        self.view.setLineWrapMode(QPlainTextEdit.LineWrapMode.NoWrap)
        self.view.setUndoRedoEnabled(False)
        self.view.setObjectName("logView")
        mono = QFont("DejaVu Sans Mono")
        mono.setStyleHint(QFont.StyleHint.Monospace)
        mono.setPointSizeF(max(8.0, self.font().pointSizeF() - 0.5))
        self.view.setFont(mono)

        self.level_filter = QComboBox(self)
        self.level_filter.addItem("All messages", 0)
        self.level_filter.addItem("Warnings and errors", 1)
        self.level_filter.addItem("Errors only", 2)
        self.level_filter.currentIndexChanged.connect(self._on_level_changed)
        clear = QPushButton("Clear", self)
        clear.clicked.connect(self.clear)

        bar = QHBoxLayout()
        bar.setContentsMargins(0, 0, 0, 0)
        bar.addWidget(QLabel("Show:", self))
        bar.addWidget(self.level_filter)
        bar.addStretch(1)
        bar.addWidget(clear)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 6, 6, 6)
        layout.setSpacing(4)
        layout.addLayout(bar)
        layout.addWidget(self.view)

        self._formats = self._build_formats()
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(flush_interval_ms)
        self._timer.timeout.connect(self.flush)

    # --- feeding ------------------------------------------------------------------------------

    def add_entry(self, entry: LogEntry) -> None:
        """Queue an entry (slot for the bridge and for the GUI's own messages)."""
        self._entries.append(entry)
        self._pending.append(entry)
        if not self._timer.isActive():
            self._timer.start()

    def add_batch(self, batch: LogBatch) -> None:
        """Slot for the bridge: one drain's entries, after a "… N more" line if the burst
        was more than a person can read (the bridge kept only the newest entries)."""
        summary = batch.summary()
        entries = batch.entries if summary is None else [summary, *batch.entries]
        self._entries.extend(entries)
        self._pending.extend(entries)
        if len(self._pending) > self._max_lines:  # the document keeps no more anyway
            del self._pending[: -self._max_lines]
        if not self._timer.isActive():
            self._timer.start()

    def log(self, text: str, level: LogLevel = LogLevel.INFO, source: str = "control center"):
        self.add_entry(LogEntry(text=text, level=level, source=source))

    def flush(self) -> None:
        pending, self._pending = self._pending, []
        shown = [e for e in pending if _LEVEL_RANK.get(e.level, 0) >= self._min_rank]
        if shown:
            self._append(shown)

    def clear(self) -> None:
        self._entries.clear()
        self._pending.clear()
        self.view.clear()

    def entries(self) -> list[LogEntry]:
        return list(self._entries)

    def plain_text(self) -> str:
        """What the operator sees (tests read it)."""
        self.flush()
        return self.view.toPlainText()

    # --- internals ----------------------------------------------------------------------------

    def _on_level_changed(self, _index: int) -> None:
        self._min_rank = int(self.level_filter.currentData() or 0)
        self._pending.clear()
        self.view.clear()
        self._append([e for e in self._entries if _LEVEL_RANK.get(e.level, 0) >= self._min_rank])

    def _append(self, entries: list[LogEntry]) -> None:
        bar = self.view.verticalScrollBar()
        at_bottom = bar.value() >= bar.maximum() - 4
        cursor = QTextCursor(self.view.document())
        cursor.movePosition(QTextCursor.MoveOperation.End)
        cursor.beginEditBlock()
        first = self.view.document().isEmpty()
        for entry in entries:
            if not first:
                cursor.insertBlock()
            first = False
            level = entry.level if entry.level in _LEVEL_TAGS else LogLevel.INFO
            cursor.insertText(
                local_time(entry.ts, unreadable=entry.ts[:8]) + "  ", self._formats["time"]
            )
            cursor.insertText(_LEVEL_TAGS[level] + "  ", self._formats[level])
            cursor.insertText(f"{entry.source[:14]:<14}  ", self._formats["source"])
            cursor.insertText(entry.text, self._formats[f"text-{level}"])
        cursor.endEditBlock()
        if at_bottom:
            bar.setValue(bar.maximum())

    def _build_formats(self) -> dict[object, QTextCharFormat]:
        def fmt(colour: str, bold: bool = False) -> QTextCharFormat:
            f = QTextCharFormat()
            f.setForeground(QColor(colour))
            if bold:
                f.setFontWeight(QFont.Weight.Bold)
            return f

        formats: dict[object, QTextCharFormat] = {
            "time": fmt("#7b8490"),
            "source": fmt("#2f5f8f"),
        }
        for level, colour in theme.LOG_COLOURS.items():
            formats[level] = fmt(colour, bold=True)
            formats[f"text-{level}"] = fmt(colour, bold=level is LogLevel.ERROR)
        return formats

    def sizeHint(self):  # a comfortable default height for the dock
        hint = super().sizeHint()
        hint.setHeight(220)
        return hint
