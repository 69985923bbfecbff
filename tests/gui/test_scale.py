"""The control center at fleet scale: cheap heartbeats, lazy sort keys, throttled re-sorts,
a storm while the map is summarised, and a CP table whose Location column is readable."""

from __future__ import annotations

import random
from dataclasses import replace

from PySide6.QtCore import Qt

from central_app.gui.cp_columns import sort_keys
from central_app.gui.cp_model import SORT_ROLE, Column, CpFilterProxyModel, CpTableModel
from central_app.views import CpStatus, CpView
from tests.gui.conftest import FIVE_STATES, FakeControls, make_cp

LATER = "2099-01-01T00:00:00.000Z"
LATEST = "2099-01-01T00:00:05.000Z"


def _fleet(n: int, seed: int = 3) -> list[CpView]:
    """``n`` CPs spread over the city, a fifth of them supplying."""
    rng = random.Random(seed)
    cps = []
    for i in range(n):
        status = CpStatus.SUPPLYING if i % 5 == 0 else CpStatus.ACTIVE
        supplying = status is CpStatus.SUPPLYING
        cps.append(
            make_cp(
                f"CP-{i:05d}",
                status,
                x=round(rng.uniform(300, 700), 1),  # inland: Old Town and around
                y=round(rng.uniform(200, 450), 1),
                driver_id=f"D-{i:04d}" if supplying else None,
                kw=round(rng.uniform(5, 50), 1) if supplying else 0.0,
            )
        )
    return cps


def _changes(model: CpTableModel) -> list[tuple[int, int, int, int, list[int]]]:
    seen: list[tuple[int, int, int, int, list[int]]] = []
    model.dataChanged.connect(
        lambda tl, br, roles: seen.append((tl.row(), br.row(), tl.column(), br.column(), roles))
    )
    return seen


def test_a_heartbeat_repaints_only_the_time_and_patches_its_sort_key(qapp, qtmodeltester) -> None:
    model = CpTableModel()
    model.load(FIVE_STATES)
    changes = _changes(model)
    row = model.row_of("CP-02")
    beat = replace(model.cp("CP-02"), updated_at=LATER)
    assert model.apply([beat]) == 1
    assert [(c[0], c[1], c[2], c[3]) for c in changes] == [
        (row, row, Column.UPDATED, Column.UPDATED)
    ]
    assert Qt.ItemDataRole.BackgroundRole not in changes[0][4]  # no re-tint for a heartbeat
    assert model.cp("CP-02") is beat
    assert model.index(row, Column.UPDATED).data(SORT_ROLE) == LATER
    assert model.index(row, 0).data(SORT_ROLE) == sort_keys(beat)[0]
    assert model._key(row) == sort_keys(beat)  # patched in place, same as a rebuilt key
    qtmodeltester.check(model, force_py=True)


def test_heartbeats_and_moves_reach_the_map_only_when_the_map_shows_them(qtbot) -> None:
    model = CpTableModel()
    model.load(FIVE_STATES)
    to_map: list[list[str]] = []
    model.cpsUpdated.connect(lambda cps: to_map.append([cp.cp_id for cp in cps]))
    model.apply([replace(model.cp("CP-01"), updated_at=LATER)])  # heartbeat: table only
    model.apply([replace(model.cp("CP-02"), x=900.0, updated_at=LATER)])  # moved
    model.apply([replace(model.cp("CP-05"), status=CpStatus.ACTIVE, updated_at=LATER)])
    assert to_map == [["CP-02"], ["CP-05"]]


def test_a_storm_keeps_counts_order_and_model_sane(qapp, qtmodeltester) -> None:
    cps = _fleet(300)
    model = CpTableModel(resort_interval_ms=0)
    model.load(cps)
    proxy = CpFilterProxyModel()
    proxy.setSourceModel(model)
    proxy.sort(Column.KW, Qt.SortOrder.DescendingOrder)
    for status, stamp in ((CpStatus.DISCONNECTED, LATER), (CpStatus.ACTIVE, LATEST)):
        storm = [replace(cp, status=status, driver_id=None, kw=0.0, updated_at=stamp) for cp in cps]
        for start in range(0, len(storm), 70):
            model.apply(storm[start : start + 70])
        assert model.counts()[status] == 300
    cps[7] = replace(cps[7], status=CpStatus.SUPPLYING, kw=9.0, updated_at="2099-01-02")
    model.apply([cps[7]])
    ids = [proxy.index(r, 0).data() for r in range(proxy.rowCount())]
    assert ids[0] == cps[7].cp_id and ids[1:4] == ["CP-00000", "CP-00001", "CP-00002"]
    keys = [model.index(r, 0).data(SORT_ROLE) for r in range(model.rowCount())]
    assert all(model._key(r) == sort_keys(model.cp_at(r)) for r in range(model.rowCount()))
    assert len(set(keys)) == 300
    qtmodeltester.check(proxy, force_py=True)
    qtmodeltester.check(model, force_py=True)


def test_resorting_during_a_storm_is_throttled(qtbot) -> None:
    cps = _fleet(500)
    model = CpTableModel(resort_interval_ms=400)
    model.load(cps)
    model.sort(Column.STATUS, Qt.SortOrder.AscendingOrder)  # a header click: sorted at once
    layouts: list[int] = []
    model.layoutChanged.connect(lambda *_: layouts.append(1))
    storm = [replace(cp, status=CpStatus.BROKEN, updated_at=LATER) for cp in cps]
    for start in range(0, len(storm), 50):  # ten batches within far less than 400 ms
        model.apply(storm[start : start + 50])
    assert layouts == []  # the status column changed ten times: no re-sort yet
    qtbot.waitUntil(lambda: layouts == [1], timeout=3000)  # one re-sort, after the interval
    statuses = {model.cp_at(r).status for r in range(model.rowCount())}
    assert statuses == {CpStatus.BROKEN}


def test_a_storm_while_the_map_is_summarised_counts_without_styling_tiles(qtbot) -> None:
    from central_app.gui import ControlCenterWindow
    from citymap.tiles import OperatorStyle

    cps = _fleet(2400)
    win = ControlCenterWindow(FakeControls(cps), flush_interval_ms=30)
    qtbot.addWidget(win)
    win.show()
    qtbot.waitExposed(win)
    win.map.fit_city()
    qtbot.waitUntil(win.map.aggregated, timeout=3000)

    def storm(status: CpStatus, stamp: str) -> None:
        for cp in cps:
            win.bridge.cp_changed(
                replace(cp, status=status, driver_id=None, kw=0.0, updated_at=stamp)
            )

    storm(CpStatus.DISCONNECTED, LATER)
    storm(CpStatus.ACTIVE, LATEST)
    green = OperatorStyle.COLOURS[CpStatus.ACTIVE][0].rgba()
    grid = win.map.city_scene.grid
    qtbot.waitUntil(lambda: grid.totals() == {green: 2400}, timeout=5000)
    qtbot.waitUntil(lambda: win.model.counts()[CpStatus.ACTIVE] == 2400, timeout=5000)
    assert win.state_counts.counts[CpStatus.ACTIVE] == 2400
    tile = win.map.tile(cps[0].cp_id)
    assert tile.tile_data.status == CpStatus.ACTIVE and tile.look_is_deferred()
    assert tile.look.legend == "Active"  # styled when asked (or painted)


def test_the_cp_dock_leaves_the_location_column_readable(qtbot) -> None:
    from central_app.gui import ControlCenterWindow

    cps = [*FIVE_STATES, make_cp("CP-07", location="Market Quarter")]
    win = ControlCenterWindow(FakeControls(cps))
    qtbot.addWidget(win)
    win.resize(1400, 900)
    win.show()
    qtbot.waitExposed(win)
    table = win.cp_panel.table
    needed = table.fontMetrics().horizontalAdvance("Market Quarter") + 8
    qtbot.waitUntil(
        lambda: table.horizontalHeader().sectionSize(Column.LOCATION) >= needed, timeout=2000
    )
    assert win.map.width() >= 600  # the map keeps most of the window
