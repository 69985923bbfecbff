"""The panel of driver requests: ongoing ones, plus recently ended ones for a short while.

A request is *ongoing* while it is received, authorized or supplying. When it ends (denied,
expired, finished, interrupted) the operator still wants to see how it ended, so the row
stays, greyed, for ``linger_s`` seconds and is then pruned. The model is capped so a storm of
requests cannot grow it without bound.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from enum import IntEnum

from PySide6.QtCore import QAbstractTableModel, QModelIndex, Qt, QTimer
from PySide6.QtGui import QColor, QFont, QIcon

from central_app.gui import theme
from central_app.views import RequestPhase, RequestView
from wire.qtmodels import Index
from wire.timefmt import local_time

__all__ = ["ONGOING_PHASES", "RequestColumn", "RequestsModel"]


ONGOING_PHASES = frozenset({RequestPhase.RECEIVED, RequestPhase.AUTHORIZED, RequestPhase.SUPPLYING})

_PHASE_LABELS: dict[RequestPhase, str] = {
    RequestPhase.RECEIVED: "Received",
    RequestPhase.AUTHORIZED: "Authorized",
    RequestPhase.SUPPLYING: "Supplying",
    RequestPhase.DENIED: "Denied",
    RequestPhase.EXPIRED: "Expired",
    RequestPhase.FINISHED: "Finished",
    RequestPhase.INTERRUPTED: "Interrupted",
}

_ORIGIN_LABELS = {
    "app": "Driver app",
    "file": "File",
    "cp": "At the CP",
    "manual": "At the CP",
    "offline": "Charger offline",
}


class RequestColumn(IntEnum):
    TIME = 0
    DRIVER = 1
    CP = 2
    PHASE = 3
    DETAIL = 4
    ORIGIN = 5


_HEADERS = {
    RequestColumn.TIME: "Time",
    RequestColumn.DRIVER: "Driver",
    RequestColumn.CP: "CP",
    RequestColumn.PHASE: "Phase",
    RequestColumn.DETAIL: "Detail",
    RequestColumn.ORIGIN: "Origin",
}


class RequestsModel(QAbstractTableModel):
    """Newest request first; ongoing requests stay, ended ones linger then disappear."""

    def __init__(
        self,
        parent=None,
        *,
        linger_s: float = 30.0,
        max_rows: int = 500,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        super().__init__(parent)
        self._rows: list[RequestView] = []  # newest first
        self._ended_at: dict[str, float] = {}  # request_id -> clock() when it ended
        self._row_of: dict[str, int] | None = None  # request_id -> row, rebuilt when stale
        self._linger_s = linger_s
        self._max_rows = max_rows
        self._clock = clock
        self._bold = QFont()
        self._bold.setBold(True)
        self._ended_colour = QColor("#7b8490")
        self._prune_timer = QTimer(self)
        self._prune_timer.setInterval(1000)
        self._prune_timer.timeout.connect(self.prune)
        self._prune_timer.start()

    def update_request(self, request: RequestView) -> None:
        """Insert a new request at the top or update it in place."""
        self.update_requests([request])

    def update_requests(self, batch: list[RequestView]) -> None:
        """Slot for the bridge: a drain's requests (oldest first) in one pass.

        Known requests are updated in place (one ``dataChanged`` over the rows touched), new
        ones are inserted at the top with one ``beginInsertRows``; a burst larger than the
        cap keeps only its newest requests.
        """
        now = self._clock()
        fresh: dict[str, RequestView] = {}
        touched: list[int] = []
        row_of = self._row_index()
        for request in batch:
            if request.phase in ONGOING_PHASES:
                self._ended_at.pop(request.request_id, None)
            else:
                self._ended_at.setdefault(request.request_id, now)
            row = row_of.get(request.request_id)
            if row is None:
                fresh.pop(request.request_id, None)
                fresh[request.request_id] = request
            else:
                self._rows[row] = request
                touched.append(row)
        if touched:
            last = len(RequestColumn) - 1
            self.dataChanged.emit(self.index(min(touched), 0), self.index(max(touched), last))
        if fresh:
            new = list(fresh.values())[-self._max_rows :]
            new.reverse()  # newest first
            for gone in list(fresh)[: -self._max_rows]:
                self._ended_at.pop(gone, None)
            self.beginInsertRows(QModelIndex(), 0, len(new) - 1)
            self._rows[:0] = new
            self._row_of = None
            self.endInsertRows()
            if len(self._rows) > self._max_rows:
                self._drop_oldest_ended()

    def _row_index(self) -> dict[str, int]:
        if self._row_of is None:
            self._row_of = {r.request_id: i for i, r in enumerate(self._rows)}
        return self._row_of

    def prune(self) -> None:
        """Remove ended requests that have been shown for ``linger_s`` seconds."""
        now = self._clock()
        for row in range(len(self._rows) - 1, -1, -1):
            ended = self._ended_at.get(self._rows[row].request_id)
            if ended is not None and now - ended >= self._linger_s:
                self._remove(row)

    def ongoing_count(self) -> int:
        return sum(1 for r in self._rows if r.phase in ONGOING_PHASES)

    def request_at(self, row: int) -> RequestView:
        return self._rows[row]

    def _drop_oldest_ended(self) -> None:
        while len(self._rows) > self._max_rows:
            for row in range(len(self._rows) - 1, -1, -1):
                if self._rows[row].phase not in ONGOING_PHASES:
                    self._remove(row)
                    break
            else:  # all ongoing: drop the oldest anyway rather than grow forever
                self._remove(len(self._rows) - 1)

    def _remove(self, row: int) -> None:
        self.beginRemoveRows(QModelIndex(), row, row)
        gone = self._rows.pop(row)
        self._row_of = None
        self.endRemoveRows()
        self._ended_at.pop(gone.request_id, None)

    # --- QAbstractTableModel ------------------------------------------------------------------

    def rowCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self._rows)

    def columnCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(RequestColumn)

    def headerData(self, section: int, orientation: Qt.Orientation, role: int = 0):
        if (
            orientation == Qt.Orientation.Horizontal
            and role == Qt.ItemDataRole.DisplayRole
            and 0 <= section < len(RequestColumn)
        ):
            return _HEADERS[RequestColumn(section)]
        return None

    def flags(self, index: Index) -> Qt.ItemFlag:
        if not index.isValid():
            return Qt.ItemFlag.NoItemFlags
        return Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole):
        if not index.isValid() or index.parent().isValid():
            return None
        row, col = index.row(), index.column()
        if not (0 <= row < len(self._rows) and 0 <= col < len(RequestColumn)):
            return None
        req = self._rows[row]
        column = RequestColumn(col)
        ongoing = req.phase in ONGOING_PHASES
        if role == Qt.ItemDataRole.DisplayRole:
            match column:
                case RequestColumn.TIME:
                    return local_time(req.updated_at)
                case RequestColumn.DRIVER:
                    return req.driver_id
                case RequestColumn.CP:
                    return req.cp_id
                case RequestColumn.PHASE:
                    return _PHASE_LABELS.get(req.phase, str(req.phase))
                case RequestColumn.DETAIL:
                    return req.detail
                case RequestColumn.ORIGIN:
                    return _ORIGIN_LABELS.get(req.origin, req.origin)
        if role == Qt.ItemDataRole.ForegroundRole:
            if column is RequestColumn.PHASE:
                return QColor(theme.PHASE_COLOURS.get(req.phase, "#1f2933"))
            return None if ongoing else self._ended_colour
        if role == Qt.ItemDataRole.FontRole and column is RequestColumn.PHASE:
            return self._bold
        if role == Qt.ItemDataRole.DecorationRole and column is RequestColumn.PHASE:
            return _phase_icon(req.phase)
        if role == Qt.ItemDataRole.ToolTipRole:
            if column is RequestColumn.DETAIL and req.detail:
                return req.detail  # the whole text, however narrow the column
            parts = [f"Request {req.request_id}", f"Driver {req.driver_id} at {req.cp_id}"]
            if req.session_id:
                parts.append(f"Session {req.session_id}")
            if req.detail:
                parts.append(req.detail)
            return "\n".join(parts)
        return None


def _phase_icon(phase: RequestPhase) -> QIcon:
    return theme.dot_icon(theme.PHASE_COLOURS.get(phase, "#1f2933"))
