"""The single model of charging points that feeds the table, the map and the status bar.

Changes arrive at any rate (1,000 CPs reporting every second is the design load). Repainting
on each one would drown the GUI, so, like Qt's CAN bus example, :class:`CpTableModel` queues
them (the newest view per CP wins) and a single-shot ``QTimer`` flushes the queue every
``flush_interval_ms``. A flush emits ``dataChanged`` only for runs of rows that really
changed, only over the columns and roles that changed, wraps new CPs in
``beginInsertRows``/``endInsertRows``, and then emits :attr:`CpTableModel.cpsUpdated` with
the changed :class:`~central_app.views.CpView` objects so the map repaints the same tiles.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from operator import attrgetter

from PySide6.QtCore import (
    QAbstractTableModel,
    QModelIndex,
    QPersistentModelIndex,
    QSortFilterProxyModel,
    Qt,
    QTimer,
    Signal,
)
from PySide6.QtGui import QColor, QFont

from central_app.gui import theme
from central_app.gui.cp_columns import (
    HEADER_TIPS,
    HEADERS,
    NUMERIC_COLUMNS,
    Column,
    cp_tooltip,
    display_text,
    filter_key,
    sort_keys,
)
from central_app.views import CpStatus, CpView

__all__ = [
    "CP_ROLE",
    "FILTER_KEY_ROLE",
    "SORT_ROLE",
    "STATUS_ROLE",
    "Column",
    "CpFilterProxyModel",
    "CpTableModel",
]

SORT_ROLE = Qt.ItemDataRole.UserRole + 1  # a value that sorts naturally (numbers as numbers)
CP_ROLE = Qt.ItemDataRole.UserRole + 2  # the whole CpView
STATUS_ROLE = Qt.ItemDataRole.UserRole + 3  # CpStatus value (str)
FILTER_KEY_ROLE = Qt.ItemDataRole.UserRole + 4  # text the filter box matches

_ModelIndex = QModelIndex | QPersistentModelIndex


_NUMERIC = NUMERIC_COLUMNS

#: Which CpView fields each column shows (a change to one of them repaints the column).
_FIELDS: dict[Column, tuple[str, ...]] = {
    Column.ID: ("cp_id",),
    Column.LOCATION: ("location",),
    Column.STATUS: ("status", "admin_state"),
    Column.ENGINE: ("engine",),
    Column.DRIVER: ("driver_id",),
    Column.KW: ("kw", "status"),
    Column.KWH: ("kwh", "status"),
    Column.EUR: ("eur", "status"),
    Column.PRICE: ("price",),
    Column.UPDATED: ("updated_at",),
}

_NCOLS = len(Column)
_GETTERS = [(column, attrgetter(*names)) for column, names in _FIELDS.items()]
_DISPLAY = Qt.ItemDataRole.DisplayRole
_BACKGROUND = Qt.ItemDataRole.BackgroundRole
_FOREGROUND = Qt.ItemDataRole.ForegroundRole
_DECORATION = Qt.ItemDataRole.DecorationRole
_FONT = Qt.ItemDataRole.FontRole
_ALIGNMENT = Qt.ItemDataRole.TextAlignmentRole
_TOOLTIP = Qt.ItemDataRole.ToolTipRole
_RIGHT = Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter
_LEFT = Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter

_BASE_ROLES = [Qt.ItemDataRole.DisplayRole, Qt.ItemDataRole.ToolTipRole, SORT_ROLE, CP_ROLE]
_STATUS_ROLES = [
    Qt.ItemDataRole.BackgroundRole,
    Qt.ItemDataRole.ForegroundRole,
    Qt.ItemDataRole.DecorationRole,
    Qt.ItemDataRole.FontRole,
    STATUS_ROLE,
    FILTER_KEY_ROLE,
]


class CpTableModel(QAbstractTableModel):
    """One row per charging point; updates are queued and flushed in batches."""

    #: After each flush: the CpViews that were added or changed (the map repaints these).
    cpsUpdated = Signal(list)
    #: After each flush that changed a state: ``{CpStatus: count}`` for every status.
    countsChanged = Signal(dict)

    def __init__(self, parent=None, *, flush_interval_ms: int = 300) -> None:
        super().__init__(parent)
        self._rows: list[CpView] = []
        self._sort_keys: list[tuple] = []  # per row, per column: what SORT_ROLE returns
        self._row_of: dict[str, int] = {}
        self._pending: dict[str, CpView] = {}
        self._counts: dict[CpStatus, int] = dict.fromkeys(CpStatus, 0)
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(flush_interval_ms)
        self._timer.timeout.connect(self.flush)
        self._bold = QFont()
        self._bold.setBold(True)
        self._dim = QColor("#9aa0a8")
        #: Duration of the last flush in seconds (the benchmark reads it).
        self.last_flush_seconds = 0.0
        self.flush_count = 0

    # --- feeding ------------------------------------------------------------------------------

    def enqueue(self, cp: CpView) -> None:
        """Queue a change (slot for the bridge); the newest view of a CP replaces older ones."""
        self._pending[cp.cp_id] = cp
        if not self._timer.isActive():
            self._timer.start()

    def load(self, cps: Iterable[CpView]) -> None:
        """Replace everything with a snapshot (at start-up), sorted by id."""
        self.beginResetModel()
        self._rows = sorted({cp.cp_id: cp for cp in cps}.values(), key=lambda c: c.cp_id)
        self._row_of = {cp.cp_id: i for i, cp in enumerate(self._rows)}
        self._sort_keys = [sort_keys(cp) for cp in self._rows]
        self._pending.clear()
        self.endResetModel()
        self._recount()
        self.cpsUpdated.emit(list(self._rows))
        self.countsChanged.emit(self.counts())

    def flush(self) -> int:
        """Apply the queued changes; returns how many CPs changed."""
        if not self._pending:
            return 0
        started = time.perf_counter()
        pending, self._pending = self._pending, {}
        changed: list[tuple[int, int, int, bool]] = []  # row, first col, last col, status?
        added: list[CpView] = []
        updated: list[CpView] = []
        counts_dirty = False
        for cp in pending.values():
            row = self._row_of.get(cp.cp_id)
            if row is None:
                added.append(cp)
                continue
            old = self._rows[row]
            if old == cp or cp.updated_at < old.updated_at:
                continue  # unchanged, or older than what is shown (a pre-snapshot straggler)
            cols = [c for c, get in _GETTERS if get(old) != get(cp)]
            if not cols:
                continue
            self._rows[row] = cp
            self._sort_keys[row] = sort_keys(cp)
            status_changed = old.status is not cp.status
            if status_changed:
                self._counts[old.status] -= 1
                self._counts[cp.status] += 1
                counts_dirty = True
            if status_changed:
                first, last = 0, len(Column) - 1  # the whole row is re-tinted
            else:
                first, last = min(cols), max(cols)
            if old.driver_id != cp.driver_id or old.location != cp.location:
                status_changed = True  # the filter key changed: send the filter roles too
            changed.append((row, first, last, status_changed))
            updated.append(cp)
        self._emit_changes(changed)
        if added:
            added.sort(key=lambda c: c.cp_id)
            start = len(self._rows)
            self.beginInsertRows(QModelIndex(), start, start + len(added) - 1)
            for i, cp in enumerate(added, start):
                self._rows.append(cp)
                self._sort_keys.append(sort_keys(cp))
                self._row_of[cp.cp_id] = i
                self._counts[cp.status] += 1
            self.endInsertRows()
            counts_dirty = True
            updated.extend(added)
        self.flush_count += 1
        self.last_flush_seconds = time.perf_counter() - started
        if updated:
            self.cpsUpdated.emit(updated)
        if counts_dirty:
            self.countsChanged.emit(self.counts())
        return len(updated)

    def _emit_changes(self, changed: list[tuple[int, int, int, bool]]) -> None:
        """One ``dataChanged`` per run of consecutive changed rows, over their columns/roles."""
        if not changed:
            return
        changed.sort()
        run_start, first, last, status = changed[0]
        prev = run_start
        for row, f, la, st in changed[1:]:
            if row == prev + 1:
                first, last, status, prev = min(first, f), max(last, la), status or st, row
                continue
            self._emit_run(run_start, prev, first, last, status)
            run_start, first, last, status, prev = row, f, la, st, row
        self._emit_run(run_start, prev, first, last, status)

    def _emit_run(self, top: int, bottom: int, first: int, last: int, status: bool) -> None:
        roles = _BASE_ROLES + _STATUS_ROLES if status else _BASE_ROLES
        self.dataChanged.emit(self.index(top, first), self.index(bottom, last), roles)

    # --- queries ------------------------------------------------------------------------------

    def cp(self, cp_id: str) -> CpView | None:
        row = self._row_of.get(cp_id)
        return None if row is None else self._rows[row]

    def cp_at(self, row: int) -> CpView:
        return self._rows[row]

    def row_of(self, cp_id: str) -> int:
        """The source row of ``cp_id``, or -1."""
        return self._row_of.get(cp_id, -1)

    def cps(self) -> list[CpView]:
        return list(self._rows)

    def counts(self) -> dict[CpStatus, int]:
        return dict(self._counts)

    def pending_count(self) -> int:
        return len(self._pending)

    def _recount(self) -> None:
        self._counts = dict.fromkeys(CpStatus, 0)
        for cp in self._rows:
            self._counts[cp.status] += 1

    # --- QAbstractTableModel ------------------------------------------------------------------

    def rowCount(self, parent: _ModelIndex = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self._rows)

    def columnCount(self, parent: _ModelIndex = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else _NCOLS

    def index(self, row: int, column: int, parent: _ModelIndex = QModelIndex()) -> QModelIndex:  # noqa: B008
        # One Python call instead of hasIndex()'s rowCount() + columnCount(): the proxy asks
        # for source indexes on every comparison while it re-sorts.
        if 0 <= row < len(self._rows) and 0 <= column < _NCOLS and not parent.isValid():
            return self.createIndex(row, column)
        return QModelIndex()

    def headerData(self, section: int, orientation: Qt.Orientation, role: int = 0):
        if orientation != Qt.Orientation.Horizontal or not 0 <= section < len(Column):
            return None
        column = Column(section)
        if role == Qt.ItemDataRole.DisplayRole:
            return HEADERS[column]
        if role == Qt.ItemDataRole.ToolTipRole:
            return HEADER_TIPS.get(column)
        if role == Qt.ItemDataRole.TextAlignmentRole:
            return _alignment(column)
        return None

    def flags(self, index: _ModelIndex) -> Qt.ItemFlag:
        if not index.isValid():
            return Qt.ItemFlag.NoItemFlags
        return Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable

    def data(self, index: _ModelIndex, role: int = Qt.ItemDataRole.DisplayRole):
        # Hot path: the proxy calls this thousands of times per flush while it re-sorts, so
        # sort keys are precomputed per row and nothing here builds enums or objects.
        row, col = index.row(), index.column()
        if role == SORT_ROLE:
            if 0 <= row < len(self._sort_keys) and 0 <= col < _NCOLS:
                return self._sort_keys[row][col]
            return None
        if not (0 <= row < len(self._rows) and 0 <= col < _NCOLS) or not index.isValid():
            return None
        cp = self._rows[row]
        if role == _DISPLAY:
            return display_text(cp, col)
        if role == _BACKGROUND:
            return theme.status_tint(cp.status) if col == Column.STATUS else None
        if role == _FOREGROUND:
            if col == Column.STATUS:
                return theme.status_text_colour(cp.status)
            return self._dim if cp.status is CpStatus.DISCONNECTED else None
        if role == _DECORATION:
            return theme.status_icon(cp.status) if col == Column.ID else None
        if role == _FONT:
            return self._bold if col == Column.STATUS or col == Column.ID else None
        if role == _ALIGNMENT:
            return _RIGHT if col in _NUMERIC else _LEFT
        if role == _TOOLTIP:
            return cp_tooltip(cp)
        if role == CP_ROLE:
            return cp
        if role == STATUS_ROLE:
            return cp.status.value
        if role == FILTER_KEY_ROLE:
            return filter_key(cp)
        return None


def _alignment(column: int) -> Qt.AlignmentFlag:
    return _RIGHT if column in _NUMERIC else _LEFT


class CpFilterProxyModel(QSortFilterProxyModel):
    """Sorting by :data:`SORT_ROLE` plus a text filter (id, location, driver) and a status filter."""

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self._text = ""
        self._statuses: frozenset[CpStatus] | None = None
        self.setSortRole(SORT_ROLE)
        self.setFilterRole(FILTER_KEY_ROLE)
        self.setDynamicSortFilter(True)
        self.setSortCaseSensitivity(Qt.CaseSensitivity.CaseInsensitive)

    def set_text(self, text: str) -> None:
        text = text.strip().casefold()
        if text != self._text:
            self.beginFilterChange()
            self._text = text
            self.endFilterChange(QSortFilterProxyModel.Direction.Rows)

    def set_statuses(self, statuses: Iterable[CpStatus] | None) -> None:
        """Show only these statuses; ``None`` shows all."""
        new = None if statuses is None else frozenset(statuses)
        if new != self._statuses:
            self.beginFilterChange()
            self._statuses = new
            self.endFilterChange(QSortFilterProxyModel.Direction.Rows)

    def filterAcceptsRow(self, source_row: int, source_parent: _ModelIndex) -> bool:
        model = self.sourceModel()
        if not isinstance(model, CpTableModel):
            return True
        cp = model.cp_at(source_row)
        if self._statuses is not None and cp.status not in self._statuses:
            return False
        return not self._text or self._text in filter_key(cp)
