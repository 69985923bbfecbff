"""The shared flat table model (``wire.qtmodels.RowsModel``) that the driver's and the control
center's tables stand on: a sound Qt model, headers from ``HEADERS``, rows replaced in one reset."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QModelIndex, Qt

from wire.qtmodels import Index, RowsModel


class _Pairs(RowsModel):
    HEADERS = ("Name", "Value")

    def __init__(self) -> None:
        super().__init__()
        self._rows: list[tuple[str, int]] = []

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if role != Qt.ItemDataRole.DisplayRole or not index.isValid():
            return None
        return str(self._rows[index.row()][index.column()])


def test_rows_model_passes_qtmodeltester(qtmodeltester) -> None:  # type: ignore[no-untyped-def]
    model = _Pairs()
    qtmodeltester.check(model, force_py=True)
    model.set_rows([("a", 1), ("b", 2), ("c", 3)])
    qtmodeltester.check(model, force_py=True)


def test_set_rows_replaces_the_rows_in_one_reset(qtbot) -> None:  # type: ignore[no-untyped-def]
    model = _Pairs()
    model.set_rows(iter([("a", 1)]))
    with qtbot.waitSignal(model.modelReset, timeout=1000):
        model.set_rows(reversed([("a", 1), ("b", 2)]))
    assert model.rowCount() == 2 and model.columnCount() == 2
    assert model.data(model.index(0, 0)) == "b"
    assert model.rowCount(model.index(0, 0)) == 0  # a flat table: no row has children
    assert model.headerData(1, Qt.Orientation.Horizontal) == "Value"
    assert model.headerData(1, Qt.Orientation.Horizontal, Qt.ItemDataRole.ToolTipRole) is None
    assert model.headerData(0, Qt.Orientation.Vertical) is None
    assert model.columnCount(QModelIndex()) == len(_Pairs.HEADERS)
