"""The models on their own: qtmodeltester, batching, requests lifetime, log cap."""

from __future__ import annotations

from dataclasses import replace

from PySide6.QtCore import QPersistentModelIndex, Qt
from PySide6.QtGui import QColor

from central_app.gui.cp_model import (
    FILTER_KEY_ROLE,
    SORT_ROLE,
    Column,
    CpFilterProxyModel,
    CpTableModel,
)
from central_app.gui.log_panel import LogPanel
from central_app.gui.requests_model import RequestsModel
from central_app.views import CpStatus, LogEntry, LogLevel, RequestPhase, RequestView
from tests.gui.conftest import FIVE_STATES, make_cp

LATER = "2099-01-01T00:00:00.000Z"


def test_cp_model_passes_qtmodeltester(qtmodeltester) -> None:
    model = CpTableModel(flush_interval_ms=10)
    model.load(FIVE_STATES)
    qtmodeltester.check(model, force_py=True)
    model.enqueue(make_cp("CP-07", CpStatus.BROKEN))
    model.enqueue(replace(FIVE_STATES[0], status=CpStatus.SUPPLYING, kw=7.0, updated_at=LATER))
    model.flush()
    qtmodeltester.check(model, force_py=True)


def test_proxy_passes_qtmodeltester(qtmodeltester) -> None:
    model = CpTableModel()
    model.load(FIVE_STATES)
    proxy = CpFilterProxyModel()
    proxy.setSourceModel(model)
    proxy.sort(Column.STATUS)
    proxy.set_statuses([CpStatus.ACTIVE, CpStatus.BROKEN])
    qtmodeltester.check(proxy, force_py=True)


def test_requests_model_passes_qtmodeltester(qtmodeltester) -> None:
    model = RequestsModel()
    model.update_request(RequestView("R-1", "D-1", "CP-01", RequestPhase.SUPPLYING))
    model.update_request(RequestView("R-2", "D-2", "CP-02", RequestPhase.DENIED, "CP is BROKEN"))
    qtmodeltester.check(model, force_py=True)


def test_flush_batches_and_signals_only_changed_rows_and_roles(qtbot) -> None:
    model = CpTableModel(flush_interval_ms=30)
    model.load(FIVE_STATES)
    changes: list[tuple[int, int, int, int, list[int]]] = []
    model.dataChanged.connect(
        lambda tl, br, roles: changes.append(
            (tl.row(), br.row(), tl.column(), br.column(), list(roles))
        )
    )
    updated: list[list[str]] = []
    model.cpsUpdated.connect(lambda cps: updated.append([cp.cp_id for cp in cps]))

    supplying = FIVE_STATES[2]
    for i in range(1, 6):  # five meter readings within one flush interval: one repaint
        model.enqueue(
            replace(supplying, kw=20.0 + i, kwh=3.5 + i, updated_at=f"2099-01-0{i}T00:00:00.000Z")
        )
    qtbot.waitUntil(lambda: bool(updated), timeout=2000)

    assert updated == [["CP-03"]]
    assert len(changes) == 1
    top, bottom, first, last, roles = changes[0]
    assert top == bottom == model.row_of("CP-03")
    assert (first, last) == (Column.KW, Column.UPDATED)  # not the id/location/status columns
    assert Qt.ItemDataRole.DisplayRole in roles and SORT_ROLE in roles
    assert Qt.ItemDataRole.BackgroundRole not in roles  # the state did not change
    assert model.index(top, Column.KW).data() == "25.0"

    changes.clear()
    model.enqueue(replace(FIVE_STATES[0], status=CpStatus.BROKEN, updated_at=LATER))
    model.enqueue(replace(FIVE_STATES[1], status=CpStatus.BROKEN, updated_at=LATER))
    model.enqueue(replace(FIVE_STATES[4]))  # identical: ignored
    assert model.flush() == 2
    assert len(changes) == 1  # rows 0 and 1 are one run
    top, bottom, first, last, roles = changes[0]
    assert (top, bottom, first, last) == (0, 1, 0, len(Column) - 1)
    assert Qt.ItemDataRole.BackgroundRole in roles


def test_new_cp_is_inserted_and_stale_update_ignored(qtbot) -> None:
    model = CpTableModel(flush_interval_ms=10)
    model.load(FIVE_STATES)
    with qtbot.waitSignal(model.rowsInserted, timeout=2000):
        model.enqueue(make_cp("CP-10", CpStatus.ACTIVE))
    assert model.rowCount() == 7 and model.cp("CP-10") is not None
    newer = replace(FIVE_STATES[0], status=CpStatus.BROKEN, updated_at=LATER)
    model.enqueue(newer)
    model.flush()
    model.enqueue(replace(newer, status=CpStatus.ACTIVE, updated_at="2000-01-01T00:00:00.000Z"))
    model.flush()
    assert model.cp("CP-01").status is CpStatus.BROKEN


def test_sorting_is_numeric_and_natural() -> None:
    model = CpTableModel()
    model.load([make_cp("CP-2", kw=9.0), make_cp("CP-10", kw=10.0), make_cp("CP-1", kw=100.0)])
    proxy = CpFilterProxyModel()
    proxy.setSourceModel(model)
    proxy.sort(Column.ID)
    assert [proxy.index(r, 0).data() for r in range(3)] == ["CP-1", "CP-2", "CP-10"]
    proxy.sort(Column.KW, Qt.SortOrder.DescendingOrder)
    assert [proxy.index(r, 0).data() for r in range(3)] == ["CP-1", "CP-10", "CP-2"]


def test_ended_requests_linger_then_go() -> None:
    now = [0.0]
    model = RequestsModel(linger_s=30, clock=lambda: now[0])
    model.update_request(RequestView("R-1", "D-1", "CP-01", RequestPhase.SUPPLYING))
    model.update_request(RequestView("R-2", "D-2", "CP-02", RequestPhase.RECEIVED))
    model.update_request(RequestView("R-1", "D-1", "CP-01", RequestPhase.FINISHED, "2 kWh"))
    assert model.rowCount() == 2 and model.ongoing_count() == 1
    now[0] = 29.0
    model.prune()
    assert model.rowCount() == 2
    now[0] = 31.0
    model.prune()
    assert [model.request_at(r).request_id for r in range(model.rowCount())] == ["R-2"]


def test_log_panel_is_capped_and_coloured(qtbot) -> None:
    panel = LogPanel(max_lines=10, flush_interval_ms=10)
    qtbot.addWidget(panel)
    for i in range(50):
        panel.add_entry(LogEntry(f"line {i}", LogLevel.ERROR if i == 49 else LogLevel.INFO))
    text = panel.plain_text()
    assert panel.view.document().blockCount() == 10
    assert "line 49" in text and "line 39" not in text
    block = panel.view.document().lastBlock()
    colours = {
        fr.charFormat().foreground().color().name()
        for fr in _fragments(block)
        if "ERROR" in fr.text()
    }
    assert colours == {"#c62828"}
    panel.level_filter.setCurrentIndex(2)  # errors only
    assert panel.plain_text().count("\n") == 0 and "line 49" in panel.plain_text()


def _fragments(block):
    it = block.begin()
    while not it.atEnd():
        yield it.fragment()
        it += 1


def _ids(model) -> list[str]:
    return [model.index(r, Column.ID).data() for r in range(model.rowCount())]


def test_model_sorts_itself_and_moves_persistent_indexes(qtmodeltester) -> None:
    """The proxy hands sorting to the model; a re-sort keeps selections (persistent indexes)."""
    model = CpTableModel(resort_interval_ms=0)
    model.load(FIVE_STATES)
    proxy = CpFilterProxyModel()
    proxy.setSourceModel(model)
    proxy.sort(Column.KW, Qt.SortOrder.DescendingOrder)
    assert (proxy.sortColumn(), proxy.sortOrder()) == (Column.KW, Qt.SortOrder.DescendingOrder)
    assert _ids(proxy) == ["CP-03", "CP-01", "CP-02", "CP-04", "CP-05", "CP-06"]  # ties by id
    kept = QPersistentModelIndex(proxy.index(4, Column.STATUS))  # CP-05
    layouts: list[int] = []
    model.layoutChanged.connect(lambda *_: layouts.append(1))
    model.enqueue(replace(FIVE_STATES[4], status=CpStatus.SUPPLYING, kw=50.0, updated_at=LATER))
    model.flush()
    assert _ids(proxy)[:2] == ["CP-05", "CP-03"] and layouts == [1]
    assert kept.row() == 0 and kept.data() == "Supplying"
    model.enqueue(replace(FIVE_STATES[1], updated_at=LATER))  # not the sort column: no re-sort
    model.flush()
    assert layouts == [1]
    qtmodeltester.check(proxy, force_py=True)
    qtmodeltester.check(model, force_py=True)


def test_resort_after_live_changes_is_coalesced(qtbot) -> None:
    model = CpTableModel(flush_interval_ms=10, resort_interval_ms=300)
    model.load(FIVE_STATES)
    model.sort(Column.KW, Qt.SortOrder.DescendingOrder)  # a header click sorts at once
    assert _ids(model)[0] == "CP-03"
    model.enqueue(replace(FIVE_STATES[0], status=CpStatus.SUPPLYING, kw=90.0, updated_at=LATER))
    model.flush()
    assert _ids(model)[0] == "CP-03"  # sorted less than 300 ms ago: the order waits
    with qtbot.waitSignal(model.layoutChanged, timeout=2000):
        pass
    assert _ids(model)[:2] == ["CP-01", "CP-03"]
    model.enqueue(make_cp("CP-00", CpStatus.SUPPLYING, kw=120.0))  # a new CP: in place at once
    model.flush()
    assert _ids(model)[0] == "CP-00"


def test_cells_are_cached_per_change() -> None:
    model = CpTableModel()
    model.load(FIVE_STATES)
    row = model.row_of("CP-06")  # disconnected: dimmed text
    name = model.index(row, Column.LOCATION)
    assert name.data(Qt.ItemDataRole.ForegroundRole) == QColor("#9aa0a8")
    assert name.data(Qt.ItemDataRole.TextAlignmentRole) == (
        Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter
    )
    assert "CP-06" in name.data(Qt.ItemDataRole.ToolTipRole)
    assert name.data(FILTER_KEY_ROLE) == "cp-06\ndistrict 0\n"
    model.enqueue(replace(model.cp("CP-06"), status=CpStatus.ACTIVE, engine="OK", updated_at=LATER))
    model.flush()
    assert name.data(Qt.ItemDataRole.ForegroundRole) is None
    assert "Active" in name.data(Qt.ItemDataRole.ToolTipRole)
    assert model.index(row, Column.KW).data(Qt.ItemDataRole.TextAlignmentRole) == (
        Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter
    )
