"""``FollowEnd``: a log or list that is scrolled to its end stays at its end.

Imports Qt (PySide6), like ``wire.qtcharts``: the three programs' windows share it.

``QPlainTextEdit.appendPlainText`` scrolls along only when it judges the view to be at the
bottom *and* visible at that moment, and a list's ``scrollToBottom`` holds only until the
list is resized: lines added while the window was hidden, or a box that shrank after (the
driver's ticket card appearing under the timeline), left the newest lines below the visible
part with the scroll bar at its end (the technician's FAULT and Repaired lines). This follows
the scroll bar instead: while its value is at the maximum, every new maximum (more lines, a
smaller box, a re-wrap) is followed; once the user scrolls up, nothing moves until they
scroll back to the end.
"""

from __future__ import annotations

from PySide6.QtCore import QObject
from PySide6.QtWidgets import QAbstractScrollArea

__all__ = ["FollowEnd"]


class FollowEnd(QObject):
    """Attach to a scroll area (a child of it: it lives as long as the area)."""

    def __init__(self, area: QAbstractScrollArea) -> None:
        super().__init__(area)
        self._bar = area.verticalScrollBar()
        self.following = True
        self._bar.valueChanged.connect(self._moved)
        self._bar.rangeChanged.connect(self._range_changed)

    def _moved(self, value: int) -> None:
        self.following = value >= self._bar.maximum()

    def _range_changed(self, _minimum: int, maximum: int) -> None:
        if self.following:
            self._bar.setValue(maximum)

    def to_end(self) -> None:
        """Scroll to the end and follow it again (e.g. after the view was cleared)."""
        self.following = True
        self._bar.setValue(self._bar.maximum())
