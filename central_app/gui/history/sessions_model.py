"""Tickets as a table model that holds only the pages on screen.

``rowCount`` is the filter's total (one aggregate query that also gives the totals), so the
scroll bar is true from the start; ``data`` asks the database for the page of ``PAGE`` rows
a view reaches (``ORDER BY … LIMIT … OFFSET``, from whichever end is nearer) and keeps the
last ``KEEP_PAGES`` of them.
Opening or filtering 100,000 tickets is therefore one count and one page, whatever the size.
Sorting is done by the database too (``sort`` resets the pages).
"""

from __future__ import annotations

from collections import OrderedDict
from enum import IntEnum

from PySide6.QtCore import QAbstractTableModel, QModelIndex, QPersistentModelIndex, Qt, Signal

from central_app.history import History, SessionFilter, SessionRecord, Totals
from wire.reasons import describe_reason
from wire.timefmt import format_elapsed

_Index = QModelIndex | QPersistentModelIndex
_RIGHT = int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
RECORD_ROLE = int(Qt.ItemDataRole.UserRole) + 1


class SessionColumn(IntEnum):
    ENDED = 0
    STARTED = 1
    CP = 2
    DRIVER = 3
    KWH = 4
    EUR = 5
    DURATION = 6
    REASON = 7


HEADERS = ("Ended (UTC)", "Started (UTC)", "CP", "Driver", "kWh", "€", "Duration", "How it ended")
#: The History query's sort key per column (None: not sortable).
SORT_KEYS = ("ended_at", "started_at", "cp_id", "driver_id", "kwh", "eur", None, "reason")


def short_ts(ts: str) -> str:
    """``2026-11-20T08:30:12.345Z`` -> ``2026-11-20 08:30:12`` (UTC, like the filters)."""
    return ts[:19].replace("T", " ") if ts else ""


class SessionsModel(QAbstractTableModel):
    totalsChanged = Signal(object)  # noqa: N815 (Qt naming) Totals

    PAGE = 200
    KEEP_PAGES = 16

    def __init__(self, history: History | None, parent=None) -> None:  # type: ignore[no-untyped-def]
        super().__init__(parent)
        self._history = history
        self._filter = SessionFilter()
        self._sort = "ended_at"
        self._descending = True
        self._totals = Totals()
        self._pages: OrderedDict[int, list[SessionRecord]] = OrderedDict()
        self.queries = 0  # pages read (tests and the benchmark look)

    # --- what is shown ------------------------------------------------------------------

    @property
    def history(self) -> History | None:
        return self._history

    @property
    def filter(self) -> SessionFilter:
        return self._filter

    @property
    def totals(self) -> Totals:
        return self._totals

    def set_filter(self, f: SessionFilter) -> None:
        self._filter = f
        self.refresh()

    def refresh(self) -> None:
        """Re-read the totals and drop the pages (new tickets, a new filter or order)."""
        self.beginResetModel()
        self._pages.clear()
        self._totals = self._history.totals(self._filter) if self._history else Totals()
        self.endResetModel()
        self.totalsChanged.emit(self._totals)

    def sort(self, column: int, order: Qt.SortOrder = Qt.SortOrder.AscendingOrder) -> None:
        key = SORT_KEYS[column] if 0 <= column < len(SORT_KEYS) else None
        if key is None:
            return
        self._sort, self._descending = key, order == Qt.SortOrder.DescendingOrder
        self.layoutAboutToBeChanged.emit()
        self._pages.clear()
        self.layoutChanged.emit()

    def record(self, row: int) -> SessionRecord | None:
        if not 0 <= row < self._totals.sessions or self._history is None:
            return None
        number, offset = divmod(row, self.PAGE)
        page = self._pages.get(number)
        if page is None:
            page = self._read_page(number)
            self.queries += 1
            self._pages[number] = page
            while len(self._pages) > self.KEEP_PAGES:
                self._pages.popitem(last=False)
        else:
            self._pages.move_to_end(number)
        return page[offset] if offset < len(page) else None

    def _read_page(self, number: int) -> list[SessionRecord]:
        """A page from the nearer end: OFFSET walks the index, so a page in the second half
        is read in the reverse order from the end (the last row costs what the first does)."""
        assert self._history is not None
        total = self._totals.sessions
        start = number * self.PAGE
        end = min(start + self.PAGE, total)
        if start <= total // 2:
            return self._history.page(
                self._filter, sort=self._sort, descending=self._descending, offset=start,
                limit=self.PAGE,
            )  # fmt: skip
        rows = self._history.page(
            self._filter, sort=self._sort, descending=not self._descending, offset=total - end,
            limit=end - start,
        )  # fmt: skip
        rows.reverse()
        return rows

    # --- QAbstractTableModel -------------------------------------------------------------

    def rowCount(self, parent: _Index = QModelIndex()) -> int:  # noqa: N802, B008
        return 0 if parent.isValid() else self._totals.sessions

    def columnCount(self, parent: _Index = QModelIndex()) -> int:  # noqa: N802, B008
        return 0 if parent.isValid() else len(HEADERS)

    def headerData(self, section: int, orientation: Qt.Orientation, role: int = 0):  # noqa: N802
        if orientation != Qt.Orientation.Horizontal or not 0 <= section < len(HEADERS):
            return None
        if role == Qt.ItemDataRole.DisplayRole:
            return HEADERS[section]
        if role == Qt.ItemDataRole.ToolTipRole and SORT_KEYS[section] is None:
            return "Not sortable"
        return None

    def data(self, index: _Index, role: int = Qt.ItemDataRole.DisplayRole):
        if not index.isValid():
            return None
        column = index.column()
        if role == Qt.ItemDataRole.TextAlignmentRole:
            return _RIGHT if column in (4, 5, 6) else None
        if role not in (Qt.ItemDataRole.DisplayRole, Qt.ItemDataRole.ToolTipRole, RECORD_ROLE):
            return None
        r = self.record(index.row())
        if r is None:
            return None
        if role == RECORD_ROLE:
            return r
        if role == Qt.ItemDataRole.ToolTipRole:
            return f"{r.session_id}: {describe_reason(r.reason)}"
        return (
            short_ts(r.ended_at),
            short_ts(r.started_at),
            r.cp_id,
            r.driver_id,
            f"{r.kwh:.3f}",
            f"{r.eur:.2f}",
            format_elapsed(r.duration_s),
            describe_reason(r.reason),
        )[column]
