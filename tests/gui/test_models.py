"""The models on their own: qtmodeltester, batching, requests lifetime, log cap."""

from __future__ import annotations

from dataclasses import replace

from PySide6.QtCore import Qt

from central_app.gui.cp_model import (
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
