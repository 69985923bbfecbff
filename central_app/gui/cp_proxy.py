"""The CP table's filter: text (id, location, driver) and state, over a self-sorting model.

A ``QSortFilterProxyModel`` that sorts compares rows through the source model: two calls
into Python per comparison, and a re-sort on every ``dataChanged`` that touches the sort
column. With 1,000 CPs reporting every second that was most of the GUI thread's time, so
:class:`~central_app.gui.cp_model.CpTableModel` sorts itself (Python's sort over
precomputed keys) and this proxy hands ``sort()`` to it and keeps the source order.

Keeping the source order has a second use: while no filter is set, proxy row *r* is source
row *r*, so ``data()`` and ``flags()`` answer straight from the model. Through
``QSortFilterProxyModel``'s own ``data()`` every painted cell and role costs two calls into
Python (the source's ``index()``, then its ``data()``); here it costs one.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Protocol, runtime_checkable

from PySide6.QtCore import (
    QAbstractItemModel,
    QSortFilterProxyModel,
    Qt,
)

from central_app.gui.cp_cells import FILTER_KEY_ROLE, ITEM_FLAGS, SORT_ROLE
from central_app.views import CpStatus, CpView
from wire.qtmodels import Index

__all__ = ["CpFilterProxyModel", "SelfSortingCps"]

_ASCENDING = Qt.SortOrder.AscendingOrder
_NO_FLAGS = Qt.ItemFlag.NoItemFlags


@runtime_checkable
class SelfSortingCps(Protocol):
    """What the proxy needs from :class:`~central_app.gui.cp_model.CpTableModel`."""

    def cp_at(self, row: int) -> CpView: ...

    def cell(self, row: int, col: int, role: int) -> object: ...

    def filter_key_at(self, row: int) -> str: ...

    def sort(self, column: int, order: Qt.SortOrder = _ASCENDING) -> None: ...

    def sort_column(self) -> int: ...

    def sort_order(self) -> Qt.SortOrder: ...


class CpFilterProxyModel(QSortFilterProxyModel):
    """A text filter (id, location, driver) and a state filter over the CP model.

    Over a :class:`SelfSortingCps` source, ``sort()`` (a header click) is handed to the
    source and this proxy never compares rows itself. Over any other source model it sorts
    by :data:`~central_app.gui.cp_cells.SORT_ROLE` like a plain ``QSortFilterProxyModel``.
    """

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self._text = ""
        self._statuses: frozenset[CpStatus] | None = None
        self._cps: SelfSortingCps | None = None
        self._direct = False  # no filter over a SelfSortingCps: proxy rows are source rows
        self.setSortRole(SORT_ROLE)
        self.setFilterRole(FILTER_KEY_ROLE)
        # Re-filtering on dataChanged (a Python filterAcceptsRow per changed row) is only
        # needed while a filter is set: off otherwise, changes pass straight through.
        self.setDynamicSortFilter(False)
        self.setSortCaseSensitivity(Qt.CaseSensitivity.CaseInsensitive)

    def setSourceModel(self, model: QAbstractItemModel) -> None:  # noqa: N802 (Qt override)
        self._direct = False
        self._cps = model if isinstance(model, SelfSortingCps) else None
        super().setSourceModel(model)
        self._direct = self._cps is not None and not self._filtering()
        self.setDynamicSortFilter(self._cps is None or self._filtering())

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole):
        if self._direct:
            return self._cps.cell(index.row(), index.column(), role)  # type: ignore[union-attr]
        return super().data(index, role)

    def flags(self, index: Index) -> Qt.ItemFlag:
        if self._direct:
            return ITEM_FLAGS if index.isValid() else _NO_FLAGS
        return super().flags(index)

    def sort(self, column: int, order: Qt.SortOrder = _ASCENDING) -> None:
        if self._cps is None:
            super().sort(column, order)
        else:
            self._cps.sort(column, order)

    def sortColumn(self) -> int:  # noqa: N802 (the Qt getter, for Python callers)
        return super().sortColumn() if self._cps is None else self._cps.sort_column()

    def sortOrder(self) -> Qt.SortOrder:  # noqa: N802 (the Qt getter, for Python callers)
        return super().sortOrder() if self._cps is None else self._cps.sort_order()

    def set_text(self, text: str) -> None:
        text = text.strip().casefold()
        if text != self._text:
            self._change_filter(text, self._statuses)

    def set_statuses(self, statuses: Iterable[CpStatus] | None) -> None:
        """Show only these statuses; ``None`` shows all."""
        new = None if statuses is None else frozenset(statuses)
        if new != self._statuses:
            self._change_filter(self._text, new)

    def _filtering(self) -> bool:
        return self._statuses is not None or bool(self._text)

    def _change_filter(self, text: str, statuses: frozenset[CpStatus] | None) -> None:
        # Rows stop matching the source's before the filter changes, and match again only
        # once the proxy has re-filtered: the direct path is off in between.
        self._direct = False
        self.beginFilterChange()
        self._text, self._statuses = text, statuses
        self.endFilterChange(QSortFilterProxyModel.Direction.Rows)
        self._direct = self._cps is not None and not self._filtering()
        self.setDynamicSortFilter(self._cps is None or self._filtering())

    def filterAcceptsRow(self, source_row: int, source_parent: Index) -> bool:  # noqa: N802
        statuses, text, model = self._statuses, self._text, self._cps
        if (statuses is None and not text) or model is None:
            return True  # the usual case, asked for every changed row: answer at once
        if statuses is not None and model.cp_at(source_row).status not in statuses:
            return False
        return not text or text in model.filter_key_at(source_row)
