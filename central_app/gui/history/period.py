"""A period chooser shared by the history's views: presets, or two dates (UTC days)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from PySide6.QtCore import QDate, Signal
from PySide6.QtWidgets import QComboBox, QDateEdit, QHBoxLayout, QLabel, QWidget

from central_app.history import last_days
from wire.timefmt import format_ts, utc_now

ALL, TODAY, WEEK, MONTH, CUSTOM = "All time", "Today", "Last 7 days", "Last 30 days", "Custom"
_DAYS = {TODAY: 1, WEEK: 7, MONTH: 30}


def _day_start(day: date) -> str:
    return format_ts(datetime(day.year, day.month, day.day, tzinfo=UTC))


class PeriodPicker(QWidget):
    """``bounds()`` is (since, until) as wire timestamps, until exclusive; None: open."""

    changed = Signal()

    def __init__(self, *, allow_all: bool = True, initial: str = WEEK, parent=None) -> None:  # type: ignore[no-untyped-def]
        super().__init__(parent)
        self.preset = QComboBox(self)
        self.preset.addItems(([ALL] if allow_all else []) + [TODAY, WEEK, MONTH, CUSTOM])
        self.preset.setCurrentText(initial)
        self.preset.setToolTip("Days are UTC days; a ticket counts on the day it ended")
        today = utc_now().date()
        self.first = QDateEdit(QDate(today.year, today.month, today.day).addDays(-6), self)
        self.last = QDateEdit(QDate(today.year, today.month, today.day), self)
        for edit in (self.first, self.last):
            edit.setCalendarPopup(True)
            edit.setDisplayFormat("yyyy-MM-dd")
            edit.dateChanged.connect(self._custom_changed)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.preset)
        layout.addWidget(self.first)
        layout.addWidget(QLabel("to", self))
        layout.addWidget(self.last)
        self.preset.currentTextChanged.connect(self._preset_changed)
        self._sync_enabled()

    def _sync_enabled(self) -> None:
        custom = self.preset.currentText() == CUSTOM
        self.first.setEnabled(custom)
        self.last.setEnabled(custom)

    def _preset_changed(self, text: str) -> None:
        if text in _DAYS:  # show what the preset means in the date fields
            since, until = last_days(_DAYS[text])
            for edit, ts in ((self.first, since), (self.last, until)):
                edit.blockSignals(True)
                day = date.fromisoformat(ts[:10]) - (
                    timedelta(days=1) if edit is self.last else timedelta()
                )
                edit.setDate(QDate(day.year, day.month, day.day))
                edit.blockSignals(False)
        self._sync_enabled()
        self.changed.emit()

    def _custom_changed(self, *_args) -> None:  # type: ignore[no-untyped-def]
        if self.preset.currentText() == CUSTOM:
            self.changed.emit()

    def set_days(self, first: date, last: date) -> None:
        """A custom period from ``first`` to ``last`` inclusive (tests, scripts)."""
        self.preset.blockSignals(True)
        self.preset.setCurrentText(CUSTOM)
        self.preset.blockSignals(False)
        for edit, day in ((self.first, first), (self.last, last)):
            edit.blockSignals(True)
            edit.setDate(QDate(day.year, day.month, day.day))
            edit.blockSignals(False)
        self._sync_enabled()
        self.changed.emit()

    def bounds(self) -> tuple[str | None, str | None]:
        text = self.preset.currentText()
        if text == ALL:
            return None, None
        if text in _DAYS:
            return last_days(_DAYS[text])
        first, last = self.first.date().toPython(), self.last.date().toPython()
        if last < first:
            first, last = last, first
        return _day_start(first), _day_start(last + timedelta(days=1))

    def closed_bounds(self) -> tuple[str, str]:
        """Like ``bounds`` but never open (charts need an axis): "all" is the last 30 days."""
        since, until = self.bounds()
        if since is None or until is None:
            return last_days(30)
        return since, until

    def describe(self) -> str:
        since, until = self.bounds()
        if since is None or until is None:
            return "all time"
        last = date.fromisoformat(until[:10]) - timedelta(days=1)
        return (
            since[:10] if since[:10] == last.isoformat() else f"{since[:10]} to {last.isoformat()}"
        )
