"""What each cell of the CP table returns for each role, computed once per change of a row.

The table asks ``data()`` for seven roles of every cell it paints, through the sort/filter
proxy, so :class:`~central_app.gui.cp_model.CpTableModel` answers from a per-row
:data:`Cells` table: ``cells[role][column]``. The texts of a row are formatted when the row
changes and a view first asks for them; colours, icons, fonts and alignments depend only on
the state and are shared by every row in that state.
"""

from __future__ import annotations

from functools import cache

from PySide6.QtCore import Qt
from PySide6.QtGui import QColor, QFont

from central_app.gui import theme
from central_app.gui.cp_columns import NUMERIC_COLUMNS, Column, display_text, filter_key
from central_app.views import CpStatus, CpView

__all__ = [
    "CP_ROLE",
    "FILTER_KEY_ROLE",
    "SORT_ROLE",
    "STATUS_ROLE",
    "ITEM_FLAGS",
    "Cells",
    "alignment",
    "row_cells",
]

SORT_ROLE = Qt.ItemDataRole.UserRole + 1  # a value that sorts naturally (numbers as numbers)
CP_ROLE = Qt.ItemDataRole.UserRole + 2  # the whole CpView
STATUS_ROLE = Qt.ItemDataRole.UserRole + 3  # CpStatus value (str)
FILTER_KEY_ROLE = Qt.ItemDataRole.UserRole + 4  # text the filter box matches

#: What ``flags()`` says of every cell (the table is read-only).
ITEM_FLAGS = Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable

#: role -> one value per column (a tuple indexed by :class:`Column`).
Cells = dict[int, tuple]

_NCOLS = len(Column)
_COLUMNS = range(_NCOLS)
_RIGHT = Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter
_LEFT = Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter
_ALIGNMENTS = tuple(_RIGHT if c in NUMERIC_COLUMNS else _LEFT for c in _COLUMNS)
_DIM = "#9aa0a8"  # the text of a disconnected CP


def alignment(column: int) -> Qt.AlignmentFlag:
    return _ALIGNMENTS[column]


def _only(column: int, value: object) -> tuple:
    """``value`` in ``column``, None in every other column."""
    return tuple(value if c == column else None for c in _COLUMNS)


@cache
def _bold() -> QFont:
    font = QFont()
    font.setBold(True)
    return font


@cache
def state_cells(status: CpStatus) -> Cells:
    """The roles that depend only on the state (built on first use: needs a QGuiApplication)."""
    dim = QColor(_DIM) if status is CpStatus.DISCONNECTED else None
    foreground = tuple(
        theme.status_text_colour(status) if c == Column.STATUS else dim for c in _COLUMNS
    )
    bold = _bold()
    return {
        Qt.ItemDataRole.BackgroundRole: _only(Column.STATUS, theme.status_tint(status)),
        Qt.ItemDataRole.ForegroundRole: foreground,
        Qt.ItemDataRole.DecorationRole: _only(Column.ID, theme.status_icon(status)),
        Qt.ItemDataRole.FontRole: tuple(
            bold if c in (Column.ID, Column.STATUS) else None for c in _COLUMNS
        ),
        Qt.ItemDataRole.TextAlignmentRole: _ALIGNMENTS,
        Qt.ItemDataRole.CheckStateRole: (None,) * _NCOLS,  # asked for every painted cell
        STATUS_ROLE: (status.value,) * _NCOLS,
    }


def row_cells(cp: CpView, keys: tuple) -> Cells:
    """Everything a row returns except its tooltip (built on hover by the model)."""
    cells = dict(state_cells(cp.status))
    cells[Qt.ItemDataRole.DisplayRole] = tuple(display_text(cp, c) for c in _COLUMNS)
    cells[SORT_ROLE] = keys
    cells[CP_ROLE] = (cp,) * _NCOLS
    cells[FILTER_KEY_ROLE] = (filter_key(cp),) * _NCOLS
    return cells
