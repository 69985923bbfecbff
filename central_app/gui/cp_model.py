"""The single model of charging points that feeds the table, the map and the status bar.

Changes arrive at any rate (1,000 CPs reporting every second is the design load). Repainting
on each one would drown the GUI, so, like Qt's CAN bus example, :class:`CpTableModel` queues
them (the newest view per CP wins) and a single-shot ``QTimer`` flushes the queue every
``flush_interval_ms``. A flush emits ``dataChanged`` only for runs of rows that really
changed, only over the columns and roles that changed, wraps new CPs in
``beginInsertRows``/``endInsertRows``, and then emits :attr:`CpTableModel.cpsUpdated` with
the changed :class:`~central_app.views.CpView` objects so the map repaints the same tiles.

Three things keep a flush of 1,000 changed CPs cheap (a restart storm at 10,000 CPs is
10 such flushes a second, each way):

- ``data()`` is a lookup. What a row shows for each role is built once per change, and only
  when a view first asks for it (in practice: the rows on screen); the colours, icons and
  fonts are shared per state (:mod:`central_app.gui.cp_cells`). A changed row off screen
  costs a few list stores: its cells and its sort keys are dropped, rebuilt when a view or
  the next re-sort needs them.
- A heartbeat (most reports: only ``updated_at`` moved) is recognised with one tuple
  comparison, patches the row's time key in place and signals the Updated column alone; a
  state change re-tints the whole row without comparing columns.
- The model sorts itself (``sort()``), with Python's sort over precomputed keys, and
  :class:`CpFilterProxyModel` only filters. A ``QSortFilterProxyModel`` that sorts asks the
  source for an index and a value per comparison (two calls into Python each), and
  re-sorts on every ``dataChanged`` that touches the sort column. Here a change to the sort
  column re-sorts at most once per ``resort_interval_ms`` (a live column such as kW would
  otherwise reshuffle the table several times a second); a click on a header, a new CP and
  a snapshot sort at once.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from operator import attrgetter

from PySide6.QtCore import (
    QAbstractItemModel,
    QAbstractTableModel,
    QModelIndex,
    Qt,
    QTimer,
    Signal,
)

from central_app.gui.cp_cells import (
    CP_ROLE,
    FILTER_KEY_ROLE,
    ITEM_FLAGS,
    SORT_ROLE,
    STATUS_ROLE,
    Cells,
    alignment,
    row_cells,
)
from central_app.gui.cp_columns import (
    HEADER_TIPS,
    HEADERS,
    Column,
    cp_tooltip,
    filter_key,
    sort_keys,
)
from central_app.gui.cp_proxy import CpFilterProxyModel
from central_app.views import CpStatus, CpView
from wire.qtmodels import Index

__all__ = [
    "CP_ROLE",
    "FILTER_KEY_ROLE",
    "SORT_ROLE",
    "STATUS_ROLE",
    "Column",
    "CpFilterProxyModel",
    "CpTableModel",
]


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
_UPDATED = int(Column.UPDATED)
_ID = int(Column.ID)
_CP_ID = attrgetter("cp_id")
_GETTERS = [(int(column), attrgetter(*names)) for column, names in _FIELDS.items()]
_SORT_GETTER = dict(_GETTERS)  # sort column -> the fields its key is made of
#: Every field a row shows except the time: equal for a heartbeat.
_SHOWN = attrgetter(
    *dict.fromkeys(name for names in _FIELDS.values() for name in names if name != "updated_at")
)
_DISPLAY = Qt.ItemDataRole.DisplayRole
_TOOLTIP = Qt.ItemDataRole.ToolTipRole
_ASCENDING = Qt.SortOrder.AscendingOrder
_DESCENDING = Qt.SortOrder.DescendingOrder
_SORT_HINT = QAbstractItemModel.LayoutChangeHint.VerticalSortHint
# The overload that carries the hint (views keep their scroll position for a re-sort).
_LAYOUT_SIGNATURE = ("QList<QPersistentModelIndex>", "QAbstractItemModel::LayoutChangeHint")
_NO_FLAGS = Qt.ItemFlag.NoItemFlags

_BASE_ROLES = [Qt.ItemDataRole.DisplayRole, Qt.ItemDataRole.ToolTipRole, SORT_ROLE, CP_ROLE]
_STATUS_ROLES = [
    Qt.ItemDataRole.BackgroundRole,
    Qt.ItemDataRole.ForegroundRole,
    Qt.ItemDataRole.DecorationRole,
    Qt.ItemDataRole.FontRole,
    STATUS_ROLE,
    FILTER_KEY_ROLE,
]
_ALL_ROLES = _BASE_ROLES + _STATUS_ROLES


class CpTableModel(QAbstractTableModel):
    """One row per charging point; updates are queued and flushed in batches."""

    #: After each flush: the CpViews that were added or changed (the map repaints these);
    #: a refresh that only moves ``updated_at`` (a heartbeat) is left out.
    cpsUpdated = Signal(list)
    #: After each flush that changed a state: ``{CpStatus: count}`` for every status.
    countsChanged = Signal(dict)

    def __init__(
        self, parent=None, *, flush_interval_ms: int = 300, resort_interval_ms: int = 1000
    ) -> None:
        super().__init__(parent)
        # Parallel per-row lists, in display order (the current sort).
        self._rows: list[CpView] = []
        # Per row, per column: what SORT_ROLE returns; None until needed after a change.
        self._sort_keys: list[tuple | None] = []
        self._cells: list[Cells | None] = []  # per row: role -> per-column values, or None
        self._row_of: dict[str, int] = {}
        self._pending: dict[str, CpView] = {}
        self._counts: dict[CpStatus, int] = dict.fromkeys(CpStatus, 0)
        self._sort_column = -1  # -1: by id, not asked for by anyone
        self._sort_order = _ASCENDING
        self._sort_dirty = False
        self._sorted_at = 0.0
        self._resort_interval = resort_interval_ms / 1000
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(flush_interval_ms)
        self._timer.timeout.connect(self.flush)
        self._sort_timer = QTimer(self)
        self._sort_timer.setSingleShot(True)
        self._sort_timer.timeout.connect(self._resort_if_dirty)
        #: Duration of the last flush in seconds (the benchmark reads it).
        self.last_flush_seconds = 0.0
        self.flush_count = 0

    # --- feeding ------------------------------------------------------------------------------

    def enqueue(self, cp: CpView) -> None:
        """Queue a change (slot for the bridge); the newest view of a CP replaces older ones."""
        self._pending[cp.cp_id] = cp
        if not self._timer.isActive():
            self._timer.start()

    def apply(self, cps: Iterable[CpView]) -> int:
        """Apply a batch now (slot for the bridge, which already coalesced and paced it)."""
        pending = self._pending
        for cp in cps:
            pending[cp.cp_id] = cp
        self._timer.stop()
        return self.flush()

    def load(self, cps: Iterable[CpView]) -> None:
        """Replace everything with a snapshot (at start-up), in the current sort order."""
        self.beginResetModel()
        rows = sorted({cp.cp_id: cp for cp in cps}.values(), key=lambda c: c.cp_id)
        keys = [sort_keys(cp) for cp in rows]
        order = self._sorted_order(keys)
        self._rows = [rows[r] for r in order]
        self._sort_keys = [keys[r] for r in order]
        self._cells = [None] * len(rows)
        self._row_of = {cp.cp_id: i for i, cp in enumerate(self._rows)}
        self._pending.clear()
        self._sort_dirty = False
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
        rows, keys, cells, counts = self._rows, self._sort_keys, self._cells, self._counts
        sort_column = self._sort_column
        changed: list[tuple[int, int, int, bool]] = []  # row, first col, last col, status?
        added: list[CpView] = []
        updated: list[CpView] = []
        counts_dirty = False
        n_changed = 0
        row_of = self._row_of
        sort_get = _SORT_GETTER.get(sort_column)
        for cp in pending.values():
            row = row_of.get(cp.cp_id)
            if row is None:
                added.append(cp)
                continue
            old = rows[row]
            if old is cp or cp.updated_at < old.updated_at:
                continue  # unchanged, or older than what is shown (a pre-snapshot straggler)
            if _SHOWN(old) == _SHOWN(cp):
                # Nothing but the time (a heartbeat: most reports) or unshown fields: one
                # tuple comparison, the row's cells and keys rebuilt only if a view asks.
                moved = old.x != cp.x or old.y != cp.y
                if old.updated_at != cp.updated_at:
                    cells[row] = None
                    key = keys[row]
                    if key is not None:  # the time is the last key: patched, not rebuilt
                        keys[row] = (*key[:_UPDATED], cp.updated_at)
                    if sort_column == _UPDATED:
                        self._sort_dirty = True
                    changed.append((row, _UPDATED, _UPDATED, False))
                elif not moved:
                    continue
                rows[row] = cp
                n_changed += 1
                if moved:  # the map moves the tile; a new time alone is not on the map
                    updated.append(cp)
                continue
            if sort_get is not None and sort_get(old) != sort_get(cp):
                self._sort_dirty = True
            rows[row] = cp
            keys[row] = cells[row] = None  # rebuilt when a view (or a re-sort) next asks
            status_changed = old.status is not cp.status
            if status_changed:  # a restart storm: 10,000 of these; no per-column work
                counts[old.status] -= 1
                counts[cp.status] += 1
                counts_dirty = True
                first, last = 0, _NCOLS - 1  # the whole row is re-tinted
            else:
                cols = [c for c, get in _GETTERS if get(old) != get(cp)]
                first, last = cols[0], cols[-1]
            if old.driver_id != cp.driver_id or old.location != cp.location:
                status_changed = True  # the filter key changed: send the filter roles too
            changed.append((row, first, last, status_changed))
            n_changed += 1
            updated.append(cp)
        self._emit_changes(changed)
        if added:
            self._append(added)
            counts_dirty = True
            updated.extend(added)
            n_changed += len(added)
        if self._sort_dirty:
            wait = self._sorted_at + self._resort_interval - time.monotonic()
            if added or wait <= 0:
                self._resort()
            elif not self._sort_timer.isActive():
                self._sort_timer.start(max(1, round(wait * 1000)))
        self.flush_count += 1
        self.last_flush_seconds = time.perf_counter() - started
        if updated:
            self.cpsUpdated.emit(updated)
        if counts_dirty:
            self.countsChanged.emit(self.counts())
        return n_changed

    def _append(self, added: list[CpView]) -> None:
        added.sort(key=lambda c: c.cp_id)
        start = len(self._rows)
        self.beginInsertRows(QModelIndex(), start, start + len(added) - 1)
        for i, cp in enumerate(added, start):
            self._rows.append(cp)
            self._sort_keys.append(sort_keys(cp))
            self._cells.append(None)
            self._row_of[cp.cp_id] = i
            self._counts[cp.status] += 1
        self.endInsertRows()
        if self._sort_column >= 0:
            self._sort_dirty = True  # new rows go to their place in the same flush

    #: Changed rows at most this far apart share one ``dataChanged``: at 10,000 CPs a flush
    #: changes thousands of scattered rows, and each signal costs ~20 µs through the proxy
    #: and the table, while an unchanged row inside a range costs next to nothing (the
    #: table repaints what is on screen; the proxy maps rows in C++).
    MERGE_GAP = 64

    def _emit_changes(self, changed: list[tuple[int, int, int, bool]]) -> None:
        """One ``dataChanged`` per run of nearby changed rows, over their columns/roles."""
        if not changed:
            return
        changed.sort()
        gap = self.MERGE_GAP
        run_start, first, last, status = changed[0]
        prev = run_start
        for row, f, la, st in changed[1:]:
            if row - prev <= gap:
                first, last, status, prev = min(first, f), max(last, la), status or st, row
                continue
            self._emit_run(run_start, prev, first, last, status)
            run_start, first, last, status, prev = row, f, la, st, row
        self._emit_run(run_start, prev, first, last, status)

    def _emit_run(self, top: int, bottom: int, first: int, last: int, status: bool) -> None:
        roles = _ALL_ROLES if status else _BASE_ROLES
        self.dataChanged.emit(self.createIndex(top, first), self.createIndex(bottom, last), roles)

    # --- sorting ------------------------------------------------------------------------------

    def sort(self, column: int, order: Qt.SortOrder = _ASCENDING) -> None:
        """Sort the rows now (a header click); later changes keep them sorted, coalesced."""
        self._sort_column = column if 0 <= column < _NCOLS else -1
        self._sort_order = order
        self._resort()

    def sort_column(self) -> int:
        return self._sort_column

    def sort_order(self) -> Qt.SortOrder:
        return self._sort_order

    def _sorted_order(self, keys: list[tuple]) -> list[int]:
        """Row numbers in display order: by the sort column, ties by id (natural order)."""
        # Keys by row in plain lists: list.__getitem__ as the key function keeps the sort
        # in C (a lambda per row costs more than the sort itself at 10,000 rows).
        ids = [k[_ID] for k in keys]
        order = sorted(range(len(keys)), key=ids.__getitem__)
        column, descending = self._sort_column, self._sort_order == _DESCENDING
        if column > 0:  # Python's sort is stable, in reverse too: ties stay in id order
            values = [k[column] for k in keys]
            order.sort(key=values.__getitem__, reverse=descending)
        elif column == 0 and descending:
            order.reverse()
        return order

    def _resort_if_dirty(self) -> None:
        if self._sort_dirty:
            self._resort()

    def _key(self, row: int) -> tuple:
        keys = self._sort_keys[row]
        if keys is None:
            keys = self._sort_keys[row] = sort_keys(self._rows[row])
        return keys

    def _resort(self) -> None:
        """Put the rows in sort order: one ``layoutChanged``, and only if the order changed."""
        self._sort_dirty = False
        self._sorted_at = time.monotonic()
        self._sort_timer.stop()
        keys = self._sort_keys
        for row in [r for r, k in enumerate(keys) if k is None]:  # changed since the last
            keys[row] = sort_keys(self._rows[row])
        order = self._sorted_order(keys)
        if order == list(range(len(order))):  # (e.g. kW changed, but not their order)
            return
        self.layoutAboutToBeChanged[_LAYOUT_SIGNATURE].emit([], _SORT_HINT)
        # map() over list.__getitem__ and zip(): the reordering stays in C.
        self._rows = list(map(self._rows.__getitem__, order))
        self._sort_keys = list(map(self._sort_keys.__getitem__, order))
        self._cells = list(map(self._cells.__getitem__, order))
        self._row_of = dict(zip(map(_CP_ID, self._rows), range(len(order)), strict=True))
        persistent = [i for i in self.persistentIndexList() if i.isValid()]
        if persistent:  # e.g. the proxy's mapping of the table's selection and current row
            new_row = [0] * len(order)
            for new, old in enumerate(order):
                new_row[old] = new
            moved = [self.createIndex(new_row[i.row()], i.column()) for i in persistent]
            self.changePersistentIndexList(persistent, moved)
        self.layoutChanged[_LAYOUT_SIGNATURE].emit([], _SORT_HINT)

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

    def filter_key_at(self, row: int) -> str:
        """What the filter box matches for ``row`` (from the row's cells when built)."""
        cells = self._cells[row]
        return filter_key(self._rows[row]) if cells is None else cells[FILTER_KEY_ROLE][0]

    def _recount(self) -> None:
        self._counts = dict.fromkeys(CpStatus, 0)
        for cp in self._rows:
            self._counts[cp.status] += 1

    # --- QAbstractTableModel ------------------------------------------------------------------

    def rowCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self._rows)

    def columnCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else _NCOLS

    def index(self, row: int, column: int, parent: Index = QModelIndex()) -> QModelIndex:  # noqa: B008
        # One Python call instead of hasIndex()'s rowCount() + columnCount(): the proxy asks
        # for a source index on every data() call of the table.
        if 0 <= row < len(self._rows) and 0 <= column < _NCOLS and not parent.isValid():
            return self.createIndex(row, column)
        return QModelIndex()

    def headerData(self, section: int, orientation: Qt.Orientation, role: int = 0):
        if orientation != Qt.Orientation.Horizontal or not 0 <= section < _NCOLS:
            return None
        column = Column(section)
        if role == Qt.ItemDataRole.DisplayRole:
            return HEADERS[column]
        if role == Qt.ItemDataRole.ToolTipRole:
            return HEADER_TIPS.get(column)
        if role == Qt.ItemDataRole.TextAlignmentRole:
            return alignment(column)
        return None

    def flags(self, index: Index) -> Qt.ItemFlag:
        return ITEM_FLAGS if index.isValid() else _NO_FLAGS

    def data(self, index: Index, role: int = _DISPLAY):
        return self.cell(index.row(), index.column(), role)

    def cell(self, row: int, col: int, role: int):
        """``data()`` by row and column (the proxy calls it without a source index).

        Hot path (every cell the table paints, seven roles each): a lookup in the row's
        cells, built once per change of the row; nothing here formats or builds objects.
        """
        if not (0 <= row < len(self._rows) and 0 <= col < _NCOLS):
            return None
        cells = self._cells[row]
        if cells is None:
            cells = self._cells[row] = row_cells(self._rows[row], self._key(row))
        values = cells.get(role)
        if values is not None:
            return values[col]
        if role == _TOOLTIP:  # only on hover: built on demand, kept until the row changes
            tips = cells[_TOOLTIP] = (cp_tooltip(self._rows[row]),) * _NCOLS
            return tips[col]
        return None
