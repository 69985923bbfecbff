"""Qt table-model pieces the programs' windows share: the index type Qt hands a model, the
alignment of numbers, and the model of a flat list of rows under fixed headers (the driver's
CPs, tickets and months, the control center's report per CP).

Like ``wire.qtcharts`` it imports Qt (PySide6); the rest of ``wire`` does not.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from PySide6.QtCore import QAbstractTableModel, QModelIndex, QPersistentModelIndex, Qt

__all__ = ["RIGHT", "Index", "RowsModel"]

#: what Qt passes a model's methods as an index (a view may keep persistent ones)
Index = QModelIndex | QPersistentModelIndex

#: numbers line up on the right, as in a spreadsheet (a ``TextAlignmentRole`` answer)
RIGHT = int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)


class RowsModel(QAbstractTableModel):
    """A flat list of rows under fixed column headers: subclasses name ``HEADERS`` and answer
    ``data()`` from ``_rows``; the rows, the columns and the header come from here."""

    HEADERS: tuple[str, ...] = ()
    _rows: list[Any]

    def set_rows(self, rows: Iterable[Any]) -> None:
        """Show ``rows`` instead of the old ones (one model reset: views re-read it all)."""
        self.beginResetModel()
        self._rows = list(rows)
        self.endResetModel()

    def rowCount(self, parent: Index = QModelIndex()) -> int:  # noqa: N802, B008
        return 0 if parent.isValid() else len(self._rows)

    def columnCount(self, parent: Index = QModelIndex()) -> int:  # noqa: N802, B008
        return 0 if parent.isValid() else len(self.HEADERS)

    def headerData(  # noqa: N802
        self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole
    ) -> Any:
        if orientation == Qt.Orientation.Horizontal and role == Qt.ItemDataRole.DisplayRole:
            return self.HEADERS[section]
        return None
