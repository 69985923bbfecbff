"""Tickets as a table model that holds only the pages on screen.

``rowCount`` is the filter's total (one aggregate query that also gives the totals), so the
scroll bar is true from the start; ``data`` asks the database for the page of ``PAGE`` rows
a view reaches (``ORDER BY … LIMIT … OFFSET``, from whichever end is nearer) and keeps the
last ``KEEP_PAGES`` of them.
Opening or filtering 100,000 tickets is therefore one count and one page, whatever the size.
Sorting is done by the database too (``sort`` resets the pages). Every query runs on the
history's reader thread (:mod:`central_app.gui.history.reader`), never on the GUI thread.
"""

from __future__ import annotations

from collections import OrderedDict
from enum import IntEnum

from PySide6.QtCore import QAbstractTableModel, QModelIndex, Qt, Signal

from central_app.gui.history.reader import LOADING, HistoryReader
from central_app.history import History, SessionFilter, SessionRecord, Totals
from wire.qtmodels import RIGHT, Index
from wire.reasons import describe_reason
from wire.timefmt import format_elapsed

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
    """Rows are read off the GUI thread (:class:`HistoryReader`): a new filter shows the old
    rows until its totals arrive, a page not read yet shows "loading…" until it does."""

    totalsChanged = Signal(object)  # noqa: N815 (Qt naming) Totals
    loadingChanged = Signal(bool)  # noqa: N815 (Qt naming) the totals are being read
    failed = Signal(str)  # a query failed or timed out: one line for the operator

    PAGE = 200
    KEEP_PAGES = 16

    def __init__(self, history: History | HistoryReader | None, parent=None) -> None:  # type: ignore[no-untyped-def]
        super().__init__(parent)
        self._reader = HistoryReader.of(history, self)
        self._filter = SessionFilter()  # asked for
        self._shown = SessionFilter()  # whose totals and rows are shown
        self._sort = "ended_at"
        self._descending = True
        self._totals = Totals()
        self._pages: OrderedDict[int, list[SessionRecord]] = OrderedDict()
        self._asked: set[int] = set()  # pages asked for in this generation
        self._generation = 0  # a new one per reset or order: older pages are dropped
        self.loading = False
        self.error = ""
        self.queries = 0  # pages read (tests and the benchmark look)

    # --- what is shown ------------------------------------------------------------------

    @property
    def reader(self) -> HistoryReader | None:
        return self._reader

    @property
    def history(self) -> History | None:
        return self._reader.history if self._reader is not None else None

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
        """Read the totals again (new tickets, a new filter); the pages follow them."""
        if self._reader is None:
            return
        f = self._filter
        self._set_loading(True)
        self._reader.ask(
            self, "totals", lambda h: h.totals(f), lambda t: self._show(f, t), self._failed
        )

    def _show(self, f: SessionFilter, totals: Totals) -> None:
        self.beginResetModel()
        self._shown, self._totals = f, totals
        self._drop_pages()
        self.endResetModel()
        self.error = ""
        self._set_loading(False)
        self.totalsChanged.emit(totals)

    def _failed(self, text: str) -> None:
        self.error = text
        self._set_loading(False)
        self.failed.emit(text)

    def _set_loading(self, loading: bool) -> None:
        if loading != self.loading:
            self.loading = loading
            self.loadingChanged.emit(loading)

    def _drop_pages(self) -> None:
        self._generation += 1
        self._pages.clear()
        self._asked.clear()

    def sort(self, column: int, order: Qt.SortOrder = Qt.SortOrder.AscendingOrder) -> None:
        key = SORT_KEYS[column] if 0 <= column < len(SORT_KEYS) else None
        if key is None:
            return
        self._sort, self._descending = key, order == Qt.SortOrder.DescendingOrder
        self.layoutAboutToBeChanged.emit()
        self._drop_pages()
        self.layoutChanged.emit()

    def record(self, row: int) -> SessionRecord | None:
        """The row's ticket, or None while its page is being read (asked for here)."""
        if not 0 <= row < self._totals.sessions or self._reader is None:
            return None
        number, offset = divmod(row, self.PAGE)
        page = self._pages.get(number)
        if page is None:
            self._ask_page(number)
            return None
        self._pages.move_to_end(number)
        return page[offset] if offset < len(page) else None

    def _ask_page(self, number: int) -> None:
        if number in self._asked or self._reader is None:
            return
        self._asked.add(number)
        self.queries += 1
        generation, f, total = self._generation, self._shown, self._totals.sessions
        sort, descending, size = self._sort, self._descending, self.PAGE
        self._reader.ask(
            self,
            ("page", generation, number),
            lambda h: read_page(h, f, sort, descending, total, number, size),
            lambda rows: self._page_read(generation, number, rows),
            self._failed,
        )

    def _page_read(self, generation: int, number: int, rows: list[SessionRecord]) -> None:
        if generation != self._generation:
            return  # read for an older filter or order
        self._pages[number] = rows
        while len(self._pages) > self.KEEP_PAGES:
            dropped, _ = self._pages.popitem(last=False)
            self._asked.discard(dropped)
        first = number * self.PAGE
        last = min(first + self.PAGE, self._totals.sessions) - 1
        if last >= first:
            self.dataChanged.emit(self.index(first, 0), self.index(last, len(HEADERS) - 1))

    # --- QAbstractTableModel -------------------------------------------------------------

    def rowCount(self, parent: Index = QModelIndex()) -> int:  # noqa: N802, B008
        return 0 if parent.isValid() else self._totals.sessions

    def columnCount(self, parent: Index = QModelIndex()) -> int:  # noqa: N802, B008
        return 0 if parent.isValid() else len(HEADERS)

    def headerData(self, section: int, orientation: Qt.Orientation, role: int = 0):  # noqa: N802
        if orientation != Qt.Orientation.Horizontal or not 0 <= section < len(HEADERS):
            return None
        if role == Qt.ItemDataRole.DisplayRole:
            return HEADERS[section]
        if role == Qt.ItemDataRole.ToolTipRole and SORT_KEYS[section] is None:
            return "Not sortable"
        return None

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole):
        if not index.isValid():
            return None
        column = index.column()
        if role == Qt.ItemDataRole.TextAlignmentRole:
            return RIGHT if column in (4, 5, 6) else None
        if role not in (Qt.ItemDataRole.DisplayRole, Qt.ItemDataRole.ToolTipRole, RECORD_ROLE):
            return None
        r = self.record(index.row())
        if r is None:
            if role == Qt.ItemDataRole.DisplayRole and column == SessionColumn.ENDED:
                return LOADING
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


def read_page(
    history: History,
    f: SessionFilter,
    sort: str,
    descending: bool,
    total: int,
    number: int,
    size: int,
) -> list[SessionRecord]:
    """A page from the nearer end: OFFSET walks the index, so a page in the second half is
    read in the reverse order from the end (the last row costs what the first does)."""
    start = number * size
    end = min(start + size, total)
    if start <= total // 2:
        return history.page(f, sort=sort, descending=descending, offset=start, limit=size)
    rows = history.page(
        f, sort=sort, descending=not descending, offset=total - end, limit=end - start
    )
    rows.reverse()
    return rows
