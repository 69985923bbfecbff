"""The shared city map: the city file, the tiles' colours and clicks, and a 1,000-CP batch.

Pixel checks render the real view (offscreen platform) and read the colour painted at a
tile, so a wrong colour or a missed repaint fails for real.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import pytest  # noqa: E402
from PySide6.QtCore import QPoint, QPointF, QRectF, Qt  # noqa: E402
from PySide6.QtGui import QColor, QImage  # noqa: E402
from PySide6.QtWidgets import QLabel  # noqa: E402

from citymap import (  # noqa: E402
    AvailabilityStyle,
    CityMapError,
    CityMapView,
    CpStatus,
    CpTile,
    OperatorStyle,
    StreetKind,
    TileData,
    load_city,
)
from citymap.city import DEFAULT_CITY_PATH  # noqa: E402

# -- the city file (no Qt) ------------------------------------------------------------------


def test_real_city_is_inside_bounds_and_named() -> None:
    city = load_city()
    assert city.name == "Nova Ribera"
    assert (city.width, city.height) == (1000, 700)
    names = [d.name for d in city.districts]
    assert 6 <= len(names) <= 9
    assert len(set(names)) == len(names)
    assert {"Old Town", "Harbour", "University", "Riverside"} <= set(names)
    shapes = [d.polygon for d in city.districts]
    shapes += [s.points for s in city.streets] + [r.points for r in city.rivers]
    shapes += [a.polygon for a in city.water] + [p.polygon for p in city.parks]
    for shape in shapes:
        for x, y in shape:
            assert 0 <= x <= 1000 and 0 <= y <= 700
    assert {s.kind for s in city.streets} == {StreetKind.AVENUE, StreetKind.STREET}
    assert city.rivers and city.parks and city.water
    assert all(s.name.strip() for s in city.streets)
    # Labels sit inside their district and the lookup agrees.
    for district in city.districts:
        assert city.district_at(*district.label_at) is district


def _write(tmp_path: Path, payload: object | str) -> Path:
    path = tmp_path / "city.json"
    path.write_text(payload if isinstance(payload, str) else json.dumps(payload))
    return path


def _valid() -> dict:
    return json.loads(DEFAULT_CITY_PATH.read_text())


@pytest.mark.parametrize(
    ("mutate", "expected"),
    [
        (
            lambda c: c["districts"][2]["polygon"].__setitem__(1, [1200, 50]),
            "districts[2].polygon[1]",
        ),
        (lambda c: c["districts"][0].pop("name"), "districts[0]: missing field 'name'"),
        (lambda c: c["streets"][3].__setitem__("kind", "motorway"), "streets[3].kind"),
        (lambda c: c["districts"][1].__setitem__("fill", "green"), "districts[1].fill"),
        (lambda c: c.__setitem__("districts", []), "at least 1"),
        (lambda c: c["rivers"][0].__setitem__("width", -3), "rivers[0].width"),
        (lambda c: c["districts"][4].__setitem__("name", c["districts"][0]["name"]), "duplicate"),
    ],
)
def test_bad_city_raises_clear_error(tmp_path: Path, mutate, expected: str) -> None:
    data = _valid()
    mutate(data)
    path = _write(tmp_path, data)
    with pytest.raises(CityMapError) as info:
        load_city(path)
    assert expected in str(info.value)
    assert str(path) in str(info.value)


def test_unreadable_or_non_json_city_raises_city_map_error(tmp_path: Path) -> None:
    with pytest.raises(CityMapError, match="cannot read city file"):
        load_city(tmp_path / "missing.json")
    with pytest.raises(CityMapError, match=r"not valid JSON: .*line 1"):
        load_city(_write(tmp_path, "{ not json"))
    assert issubclass(CityMapError, ValueError)


# -- the Qt binding itself ------------------------------------------------------------------


def _void_calls_leak_none() -> bool:
    """PySide6 6.12.0 on Python 3.11 drops a reference to ``None`` on every void C++ call.

    Python < 3.12 has a mortal ``None``, so after a few thousand calls (one repaint of the
    map) the interpreter aborts with "none_dealloc". Detected here so the map tests skip
    with a clear reason instead of killing the whole pytest session.
    """
    from PySide6.QtCore import QObject

    obj = QObject()
    before = sys.getrefcount(None)
    for _ in range(200):
        obj.setObjectName("probe")
    return before - sys.getrefcount(None) > 100


NONE_LEAK = _void_calls_leak_none()
BROKEN_BINDING = (
    "PySide6 here loses a reference to None on every void call (PySide6 6.12.0 + Python "
    "3.11): any repaint aborts the interpreter. Use PySide6 < 6.12 (6.11.3 is fine) or "
    "Python >= 3.12."
)


def test_qt_binding_keeps_none_alive() -> None:
    assert not NONE_LEAK, BROKEN_BINDING


# -- the view ---------------------------------------------------------------------------------

needs_sane_binding = pytest.mark.skipif(NONE_LEAK, reason=BROKEN_BINDING)


def _same(actual: QColor, expected: QColor, tol: int = 6) -> bool:
    return all(
        abs(a - b) <= tol
        for a, b in zip(
            (actual.red(), actual.green(), actual.blue()),
            (expected.red(), expected.green(), expected.blue()),
            strict=True,
        )
    )


def _shot(view: CityMapView) -> QImage:
    return view.viewport().grab().toImage()


def _probe(view: CityMapView, data: TileData) -> QPoint:
    """A point inside the tile's body but away from its centred text (top-right corner)."""
    return view.mapFromScene(QPointF(data.x + CpTile.WIDTH / 2 - 5, data.y - CpTile.HEIGHT / 2 + 3))


@pytest.fixture
def view(qtbot) -> CityMapView:
    widget = CityMapView()
    qtbot.addWidget(widget)
    widget.resize(1000, 720)
    widget.show()
    qtbot.waitExposed(widget)
    return widget


@needs_sane_binding
def test_status_change_recolours_the_tile(view: CityMapView) -> None:
    style = OperatorStyle()
    data = TileData("MAD-01", 480, 300, CpStatus.ACTIVE, "Plaza Mayor", 0.35)
    view.set_tiles([data])
    view.set_zoom(2.0)
    view.centerOn(QPointF(data.x, data.y))
    green = style.COLOURS[CpStatus.ACTIVE][0]
    assert _same(_shot(view).pixelColor(_probe(view, data)), green)

    for status in (CpStatus.BROKEN, CpStatus.STOPPED, CpStatus.DISCONNECTED):
        changed = TileData("MAD-01", 480, 300, status, "Plaza Mayor", 0.35)
        assert view.update_tile(changed) is True
        colour = _shot(view).pixelColor(_probe(view, changed))
        assert _same(colour, style.COLOURS[status][0]), (status, colour.name())


@needs_sane_binding
def test_unchanged_data_does_not_repaint(view: CityMapView, monkeypatch) -> None:
    data = TileData("MAD-01", 480, 300, "ACTIVE", "Plaza Mayor", 0.35)
    view.update_tile(data)
    tile = view.tile("MAD-01")
    assert tile is not None
    calls: list[int] = []
    monkeypatch.setattr(tile, "update", lambda *a: calls.append(1))
    assert view.update_tile(data) is False
    # A field the operator style does not draw (location) changes the data, not the look.
    assert view.update_tile(TileData("MAD-01", 480, 300, "ACTIVE", "Elsewhere", 0.35)) is False
    assert calls == []
    assert view.update_tile(TileData("MAD-01", 480, 300, "BROKEN", "Elsewhere", 0.35)) is True
    assert calls == [1]


@needs_sane_binding
def test_far_zoom_paints_a_small_square(view: CityMapView) -> None:
    data = TileData("MAD-01", 480, 300, "BROKEN")
    view.set_tiles([data])
    view.resize(420, 300)  # small window: the zoom clamp allows "far" here
    view.set_zoom(0.4)
    assert view.zoom() < CpTile.FAR_LOD
    view.centerOn(QPointF(data.x, data.y))
    image = _shot(view)
    red = OperatorStyle.COLOURS[CpStatus.BROKEN][0]
    centre = view.mapFromScene(QPointF(data.x, data.y))
    assert _same(image.pixelColor(centre), red)
    assert not _same(image.pixelColor(_probe(view, data)), red)  # corner left to the map


@needs_sane_binding
def test_clicking_a_tile_emits_its_id(view: CityMapView, qtbot) -> None:
    view.set_tiles(
        [TileData("UNI-01", 540, 150, "ACTIVE"), TileData("HAR-01", 700, 600, "SUPPLYING")]
    )
    pos = view.mapFromScene(QPointF(700, 600))
    with qtbot.waitSignal(view.tileClicked, timeout=2000) as blocker:
        qtbot.mouseClick(view.viewport(), Qt.MouseButton.LeftButton, pos=pos)
    assert blocker.args == ["HAR-01"]
    assert view.selected_ids() == ["HAR-01"]


@needs_sane_binding
def test_clicking_the_background_emits_nothing(view: CityMapView, qtbot) -> None:
    view.set_tiles([TileData("UNI-01", 540, 150, "ACTIVE")])
    with qtbot.assertNotEmitted(view.tileClicked, wait=100):
        qtbot.mouseClick(
            view.viewport(), Qt.MouseButton.LeftButton, pos=view.mapFromScene(QPointF(100, 600))
        )


@needs_sane_binding
def test_hover_emits_tile_id(view: CityMapView, qtbot) -> None:
    view.set_tiles([TileData("UNI-01", 540, 150, "ACTIVE")])
    with qtbot.waitSignal(view.tileHovered, timeout=2000) as blocker:
        qtbot.mouseMove(view.viewport(), view.mapFromScene(QPointF(540, 150)))
    assert blocker.args == ["UNI-01"]
    tooltip = view.city_scene.style.tooltip(view.tile("UNI-01").tile_data)
    assert "UNI-01" in tooltip and "Active" in tooltip


@needs_sane_binding
def test_zoom_is_clamped(view: CityMapView) -> None:
    view.set_zoom(1000)
    assert view.zoom() == pytest.approx(CityMapView.MAX_ZOOM)
    view.fit_city()
    fit = view.zoom()
    view.zoom_by(0.01)
    assert view.zoom() == pytest.approx(fit * CityMapView.MIN_ZOOM_OF_FIT, rel=0.02)


@needs_sane_binding
def test_driver_style_shows_availability_and_hides_other_drivers(qtbot) -> None:
    style = AvailabilityStyle(own_driver_id="D-07")
    other = TileData("TEC-01", 800, 100, "SUPPLYING", price=0.42, kw=48, eur=5.3, driver_id="D-03")
    mine = TileData("MAD-02", 590, 395, "SUPPLYING", price=0.38, kw=22, eur=2.0, driver_id="D-07")
    free = TileData("MAD-01", 480, 300, "ACTIVE", price=0.35)
    broken = TileData("UNI-02", 390, 190, "BROKEN", price=0.31)
    assert style.look(free).legend == "Available" and style.look(free).badge == "0.35 €/kWh"
    assert style.look(other).legend == "Busy"
    assert style.look(broken).legend == "Unavailable"
    assert style.look(mine).legend == "Your charge"
    for text in (*style.look(other).details, style.look(other).badge, style.tooltip(other)):
        assert "D-03" not in text and "48" not in text

    view = CityMapView(style=style)
    qtbot.addWidget(view)
    view.resize(800, 600)
    view.show()
    view.set_tiles([free, other])
    view.set_zoom(2.0)
    view.centerOn(QPointF(free.x, free.y))
    assert _same(_shot(view).pixelColor(_probe(view, free)), AvailabilityStyle.AVAILABLE[0])
    legend_texts = [label.text() for label in view.legend.findChildren(QLabel) if label.text()]
    assert legend_texts == [
        "Available",
        "Busy",
        "Unavailable",
        "Your charge",
    ]


@needs_sane_binding
def test_thousand_tiles_update_in_one_batch_and_repaint(view: CityMapView) -> None:
    batch = [
        TileData(f"CP-{i:04d}", 20 + (i % 40) * 24, 20 + (i // 40) * 26, "ACTIVE", price=0.3)
        for i in range(1000)
    ]
    view.set_tiles(batch)
    view.fit_city()
    _shot(view)
    assert len(view.city_scene.tiles()) == 1000

    broken = [TileData(d.cp_id, d.x, d.y, "BROKEN", price=0.3) for d in batch]
    assert view.update_tiles(broken) == 1000
    assert view.update_tiles(broken) == 0  # same data again: nothing to repaint
    image = _shot(view)
    red = OperatorStyle.COLOURS[CpStatus.BROKEN][0]
    for data in (broken[0], broken[517], broken[-1]):
        centre = view.mapFromScene(QPointF(data.x, data.y))
        # At whole-city zoom tiles are drawn with text; look for red around the centre.
        assert any(
            _same(image.pixelColor(centre + QPoint(dx, dy)), red)
            for dx in range(-8, 9, 2)
            for dy in range(-6, 7, 2)
        ), data.cp_id

    view.set_tiles(batch[:10])
    assert len(view.city_scene.tiles()) == 10
    assert view.remove_tile("CP-0000") and not view.remove_tile("CP-0000")


# -- text fitting and the paint cache --------------------------------------------------------


def _shown(tile: CpTile, zoom: float) -> list[str]:
    """The lines a tile shows at ``zoom``, checked to lie inside the tile's text box."""
    w, h = round(CpTile.WIDTH * zoom), round(CpTile.HEIGHT * zoom)
    stripe = max(3, (w - 2) // 14) if tile.look.stripe is not None else 0
    width, height = w - 4 - (stripe + 1 if stripe else 2), h - 4
    lines = tile._fit(width, height, zoom >= CpTile.CLOSE_LOD)
    for line in lines:
        size = line.text.size()
        assert line.x >= 0 and line.x + size.width() <= width + 0.5, line.text.text()
        assert line.y >= 0 and line.y + size.height() <= height + 0.5, line.text.text()
    return [line.text.text() for line in lines]


@needs_sane_binding
@pytest.mark.parametrize("zoom", [0.55, 0.6, 0.72, 0.75, 0.9, 1.16, 1.6, 2.4, 3.0, 6.0, 12.0])
def test_tile_text_fits_and_is_never_clipped(qtbot, zoom: float) -> None:
    samples = [
        TileData("CP-0001", 0, 0, status, price=0.35)
        for status in ("ACTIVE", "STOPPED", "BROKEN", "DISCONNECTED")
    ]
    samples.append(
        TileData(
            "CP-0002",
            0,
            0,
            "SUPPLYING",
            price=0.35,
            kw=48.0,
            kwh=43.8,
            eur=15.33,
            driver_id="D-123",
        )
    )
    for style in (OperatorStyle(), AvailabilityStyle("D-123")):
        for data in samples:
            tile = CpTile(data, style)
            shown = _shown(tile, zoom)
            # From the control center's whole-city zoom on, the id is always there.
            assert shown[:1] == [data.cp_id] or (zoom < 0.7 and not shown), (zoom, shown)
            look = tile.look
            allowed = {data.cp_id, look.legend, look.badge, look.short}
            if zoom < CpTile.CLOSE_LOD:  # medium: whole words or nothing, never "Out of O…"
                assert set(shown) <= allowed, (zoom, shown)
            assert not any("…" in line for line in shown[:2]), (zoom, shown)


@needs_sane_binding
def test_small_tiles_show_the_id_and_the_live_kw(qtbot) -> None:
    """The control center's whole-city zoom (~0.75): no clipped legend, the kW stays."""
    stopped = CpTile(TileData("CP-04", 0, 0, "STOPPED"), OperatorStyle())
    supplying = CpTile(
        TileData("CP-01", 0, 0, "SUPPLYING", kw=22.4, kwh=5.3, eur=2.02, driver_id="D-3"),
        OperatorStyle(),
    )
    assert _shown(stopped, 0.75) == ["CP-04"]
    assert _shown(supplying, 0.75) == ["CP-01", "22 kW"]
    assert _shown(stopped, 1.16) == ["CP-04", "Out of Order"]
    assert _shown(supplying, 1.16) == ["CP-01", "22kW 2.02 €"]


@needs_sane_binding
def test_cached_tile_still_recolours_on_change(view: CityMapView) -> None:
    data = TileData("MAD-01", 480, 300, CpStatus.ACTIVE, "Plaza Mayor", 0.35)
    view.set_tiles([data])
    view.set_zoom(1.2)
    view.centerOn(QPointF(data.x, data.y))
    for _ in range(3):  # the second identical paint keeps the tile as a pixmap
        _shot(view)
    assert view.tile("MAD-01")._pixmap_key is not None
    green = OperatorStyle.COLOURS[CpStatus.ACTIVE][0]
    assert _same(_shot(view).pixelColor(_probe(view, data)), green)
    broken = TileData("MAD-01", 480, 300, CpStatus.BROKEN, "Plaza Mayor", 0.35)
    view.update_tile(broken)
    red = OperatorStyle.COLOURS[CpStatus.BROKEN][0]
    for _ in range(3):
        assert _same(_shot(view).pixelColor(_probe(view, broken)), red)


# -- big networks: density-scaled tiles and the aggregated whole-city view -------------------


def test_status_grid_counts_moves_and_removals() -> None:
    from citymap.aggregate import StatusGrid

    grid = StatusGrid(1000, 700)
    assert grid.set("A", 10, 10, "red") == (0, 0)
    assert grid.set("B", 20, 20, "green") == (0, 0)
    assert grid.set("B", 20, 20, "green") is None  # nothing changed
    assert grid.counts_at(0, 50, 50) == {"red": 1, "green": 1}
    assert grid.set("B", 20, 20, "red") == (0, 0)  # a state change stays in its cell
    assert grid.counts_at(3, 20, 20) == {"red": 1}  # fine level: B alone in its cell
    assert grid.set("A", 950, 650, "red") == (-1, -1)  # moved to another coarse cell
    assert grid.counts_at(0, 950, 650) == {"red": 1}
    assert grid.set("C", 5000, -10, "grey") is not None  # off the map: counted at the edge
    assert grid.totals() == {"red": 2, "grey": 1}
    assert grid.remove("A") == (9, 6) and grid.remove("A") is None
    assert len(grid) == 2


def _network(n: int, status: str = "ACTIVE") -> list[TileData]:
    import random

    rng = random.Random(5)
    return [
        TileData(f"CP-{i:05d}", rng.uniform(5, 995), rng.uniform(5, 695), status, price=0.3)
        for i in range(n)
    ]


def _summarised(view: CityMapView) -> list[TileData]:
    """3,000 CPs on ``view`` with the whole city in sight: zoomed out that far, the map shows
    its summary (``aggregated``) instead of the tiles; returns the tiles it was given."""
    tiles = _network(3000)
    view.set_tiles(tiles)
    view.fit_city()
    assert view.aggregated()
    return tiles


@needs_sane_binding
def test_tiles_shrink_with_density_and_the_zoom_limit_grows(view: CityMapView) -> None:
    view.set_tiles(_network(12))
    assert view.city_scene.tile_scale() == 1.0
    assert view.max_zoom() == CityMapView.MAX_ZOOM
    view.set_tiles(_network(10000))
    scale = view.city_scene.tile_scale()
    assert scale == pytest.approx(0.125)
    assert view.tile("CP-00001").scale() == pytest.approx(scale)
    assert view.max_zoom() == pytest.approx(CityMapView.MAX_ZOOM / scale)
    view.set_tiles(_network(12))
    assert view.tile("CP-00001").scale() == 1.0


@needs_sane_binding
def test_big_network_is_summarised_when_zoomed_out(view: CityMapView, qtbot) -> None:
    tiles = _summarised(view)
    red = OperatorStyle.COLOURS[CpStatus.BROKEN][0]
    green = OperatorStyle.COLOURS[CpStatus.ACTIVE][0]
    grid = view.city_scene.grid
    assert grid.totals() == {green.rgba(): 3000}
    target = tiles[42]
    centre = view.mapFromScene(QPointF(target.x, target.y))
    assert view.tile_at(centre) is None  # tiles are neither painted nor hit
    assert "3,000" not in view.summary_tooltip(centre)
    assert "Active" in view.summary_tooltip(centre)

    view.tile(target.cp_id).setSelected(True)
    broken = [TileData(t.cp_id, t.x, t.y, "BROKEN", price=0.3) for t in tiles]
    view.update_tiles(broken)  # a restart storm: every CP changes state
    assert grid.totals() == {red.rgba(): 3000}
    image = _shot(view)
    level = view.city_scene.summary_layer.level_for(view.zoom())
    cell = grid.cell_rect(level, grid.cell_of(level, target.x, target.y))
    assert _same(image.pixelColor(view.mapFromScene(cell.center())), red, tol=10)

    view.zoom_into_cell(centre)  # a click on a cell: tiles again, selection kept
    assert not view.aggregated()
    assert view.tile(target.cp_id).isSelected()
    view.centerOn(QPointF(target.x, target.y))
    assert view.tile_at(view.mapFromScene(QPointF(target.x, target.y))) is not None
    view.fit_city()
    assert view.aggregated() and view.selected_ids() == [target.cp_id]


# -- big networks: cheap changes while summarised, summary squares on land -------------------


def test_on_land_excludes_the_sea_inside_district_outlines() -> None:
    city = load_city()
    # Harbour's outline reaches into the bay: a district, but water.
    assert city.district_at(960, 650) is not None
    assert not city.on_land(960, 650)
    assert city.on_land(500, 350)


@pytest.mark.parametrize(
    "style", [OperatorStyle(), AvailabilityStyle(), AvailabilityStyle(own_driver_id="D-1")]
)
def test_style_bucket_is_the_look_fill(style) -> None:
    for state in [*CpStatus, "supplying", "UNKNOWN"]:
        for driver in (None, "D-1", "D-2"):
            data = TileData("CP-1", 10, 10, state, driver_id=driver, kw=7.0)
            assert style.bucket(data) == style.look(data).fill.rgba(), (state, driver)


def test_style_bucket_follows_an_overridden_look() -> None:
    from citymap.tiles import TileLook

    class Purple(OperatorStyle):
        def look(self, data: TileData) -> TileLook:
            return TileLook(QColor("#7048e8"), QColor("#ffffff"), "Purple")

    data = TileData("CP-1", 10, 10, CpStatus.ACTIVE)
    assert Purple().bucket(data) == QColor("#7048e8").rgba()


def test_status_grid_learns_new_buckets_after_cells_exist() -> None:
    from citymap.aggregate import StatusGrid

    grid = StatusGrid(1000, 700)
    grid.set("A", 10, 10, "green")
    grid.set("B", 600, 600, "green")
    grid.set("A", 10, 10, "red")  # a new bucket widens every cell's counts
    assert grid.counts_at(0, 10, 10) == {"red": 1}
    assert grid.counts_at(0, 600, 600) == {"green": 1}
    assert grid.cells(0) == {(0, 0): {"red": 1}, (6, 6): {"green": 1}}
    assert grid.remove("A") == (0, 0) and (0, 0) not in grid.cells(0)
    assert grid.totals() == {"green": 1}


@needs_sane_binding
def test_a_storm_while_summarised_defers_tile_looks(view: CityMapView, monkeypatch) -> None:
    tiles = _summarised(view)
    looks = []
    original = OperatorStyle.look
    monkeypatch.setattr(
        OperatorStyle, "look", lambda self, data: looks.append(data) or original(self, data)
    )
    broken = [TileData(t.cp_id, t.x, t.y, "BROKEN", price=0.3) for t in tiles]
    assert view.update_tiles(broken) == 3000
    assert looks == []  # no look built for a hidden tile: only the summary counts moved
    red = OperatorStyle.COLOURS[CpStatus.BROKEN][0]
    assert view.city_scene.grid.totals() == {red.rgba(): 3000}
    target = view.tile(tiles[7].cp_id)
    assert target.look_is_deferred() and target.tile_data.status == "BROKEN"

    view.zoom_into_cell(view.mapFromScene(QPointF(target.x(), target.y())))
    assert not view.aggregated()
    view.centerOn(target)
    image = _shot(view)  # painting styles the tiles on screen, and only those
    assert not target.look_is_deferred() and target.look.legend == "Broken"
    assert _same(image.pixelColor(view.mapFromScene(target.pos())), red, tol=10)
    assert 0 < len(looks) < 3000
    far = max(view.city_scene.tiles(), key=lambda t: (t.x() - target.x()) ** 2)
    assert far.look_is_deferred()
    assert far.look.legend == "Broken" and not far.look_is_deferred()  # asked: styled


@needs_sane_binding
def test_summary_squares_on_the_coast_stay_on_land(qtbot) -> None:
    """District outlines reach into the sea; the summary's squares must not."""
    import random

    from citymap.aggregate import AggregateLayer, StatusGrid
    from citymap.land import NO_FIT

    city = load_city()
    grid = StatusGrid(city.width, city.height)
    layer = AggregateLayer(grid, QRectF(), [], {}, city=city)
    rng = random.Random(11)
    n = 0
    while n < 6000:  # CPs on land only, as a real network (piers and spits included)
        x, y = rng.uniform(0, city.width), rng.uniform(0, city.height)
        if city.on_land(x, y):
            grid.set(f"CP-{n}", x, y, "green")
            n += 1
    mask = layer.land()
    placed = fitted = 0
    for level in range(len(StatusGrid.SIZES)):
        size = StatusGrid.SIZES[level]
        for i, j in grid.count_lists(level):
            plain = grid.cell_rect(level, (i, j))
            box = layer.cell_box(level, (i, j))
            samples = [
                (box.left() + box.width() * (a + 0.5) / 5, box.top() + box.height() * (b + 0.5) / 5)
                for a in range(5)
                for b in range(5)
            ]
            wet = sum(not city.on_land(x, y) for x, y in samples)
            fit = mask.land_box(size, i, j, size * layer.INSET)
            if fit is NO_FIT:  # a sliver of land (a pier): a small square on its CPs
                fitted += 1
                mean = grid.mean(level, (i, j))
                assert box.center().x() == pytest.approx(mean[0])
                assert box.center().y() == pytest.approx(mean[1])
                assert box.width() < plain.width() / 2
            else:
                placed += fit is not None
                assert plain.contains(box)
                # (the mask is 2 map units a pixel: a sample may sit on the coastline)
                assert wet <= 3, (level, i, j, wet)
    assert placed > 20 and fitted > 0  # coastal cells moved onto their land
    # The screenshot's case: a Harbour cell on the bay, at the whole-city level.
    harbour = layer.cell_box(1, (17, 12))
    assert city.on_land(harbour.center().x(), harbour.center().y())
