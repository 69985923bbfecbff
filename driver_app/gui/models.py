"""Table models: the network's CPs and the ticket history (views sort through a proxy)."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QModelIndex, Qt
from PySide6.QtGui import QBrush, QColor

from driver_app.network import Availability, CpInfo
from driver_app.session import TicketInfo, describe_reason, format_elapsed
from wire.qtmodels import RIGHT, Index, RowsModel
from wire.timefmt import local_time

SORT_ROLE = Qt.ItemDataRole.UserRole + 1
CP_ID_ROLE = Qt.ItemDataRole.UserRole + 2

AVAILABILITY_COLOURS = {
    Availability.AVAILABLE: QColor("#2f9e44"),
    Availability.BUSY: QColor("#f59f00"),
    Availability.OUT_OF_ORDER: QColor("#868e96"),
    Availability.BROKEN: QColor("#868e96"),
    Availability.OFFLINE: QColor("#868e96"),
}


class CpTableModel(RowsModel):
    HEADERS = ("CP", "Location", "Price", "Availability")

    def __init__(self, parent: Any = None) -> None:
        super().__init__(parent)
        self._rows: list[CpInfo] = []
        self._row_of: dict[str, int] = {}

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid() or not 0 <= index.row() < len(self._rows):
            return None
        cp = self._rows[index.row()]
        column = index.column()
        if role == CP_ID_ROLE:
            return cp.cp_id
        if role in (Qt.ItemDataRole.DisplayRole, SORT_ROLE):
            if column == 0:
                return cp.cp_id
            if column == 1:
                return cp.location
            if column == 2:
                return cp.price if role == SORT_ROLE else f"{cp.price:.2f} €/kWh"
            if column == 3:
                return cp.availability.label
        if role == Qt.ItemDataRole.ForegroundRole and column == 3:
            return QBrush(AVAILABILITY_COLOURS[cp.availability])
        if role == Qt.ItemDataRole.TextAlignmentRole and column == 2:
            return RIGHT
        if role == Qt.ItemDataRole.ToolTipRole:
            hint = "double-click to charge here" if cp.available else cp.availability.label
            return f"{cp.cp_id} — {cp.location}: {hint}"
        return None

    def cp(self, row: int) -> CpInfo:
        return self._rows[row]

    def get(self, cp_id: str) -> CpInfo | None:
        row = self._row_of.get(cp_id)
        return None if row is None else self._rows[row]

    def apply(self, batch: list[CpInfo]) -> None:
        """Update changed rows (one dataChanged per row) and append new CPs in one insert."""
        new = []
        for info in batch:
            row = self._row_of.get(info.cp_id)
            if row is None:
                new.append(info)
                continue
            self._rows[row] = info
            self.dataChanged.emit(
                self.index(row, 0),
                self.index(row, len(self.HEADERS) - 1),
                [Qt.ItemDataRole.DisplayRole, Qt.ItemDataRole.ForegroundRole],
            )
        if new:
            first = len(self._rows)
            self.beginInsertRows(QModelIndex(), first, first + len(new) - 1)
            for offset, info in enumerate(new):
                self._rows.append(info)
                self._row_of[info.cp_id] = first + offset
            self.endInsertRows()


class TicketTableModel(RowsModel):
    HEADERS = ("Ended", "CP", "kWh", "Amount", "Time", "How it ended")

    def __init__(self, tickets: list[TicketInfo] | None = None, parent: Any = None) -> None:
        super().__init__(parent)
        self._rows: list[TicketInfo] = list(tickets or [])

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid() or not 0 <= index.row() < len(self._rows):
            return None
        t = self._rows[index.row()]
        column = index.column()
        if role == SORT_ROLE:
            return (t.ended_at, t.cp_id, t.kwh, t.eur, t.duration_s, t.reason)[column]
        if role == Qt.ItemDataRole.DisplayRole:
            return (
                local_time(t.ended_at, "%d %b %H:%M"),
                t.cp_id,
                f"{t.kwh:.3f}",
                f"{t.eur:.2f} €",
                format_elapsed(t.duration_s),
                describe_reason(t.reason).capitalize(),
            )[column]
        if role == Qt.ItemDataRole.TextAlignmentRole and column in (2, 3, 4):
            return RIGHT
        return None

    def tickets(self) -> list[TicketInfo]:
        return list(self._rows)

    def put(self, ticket: TicketInfo) -> None:
        """Replace the session's ticket (an amended one) in place, or add it."""
        for row, old in enumerate(self._rows):
            if old.session_id == ticket.session_id:
                self._rows[row] = ticket
                self.dataChanged.emit(self.index(row, 0), self.index(row, len(self.HEADERS) - 1))
                return
        self.add(ticket)

    def add(self, ticket: TicketInfo) -> None:
        row = len(self._rows)
        self.beginInsertRows(QModelIndex(), row, row)
        self._rows.append(ticket)
        self.endInsertRows()
