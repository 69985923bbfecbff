"""The city scene: the background drawn from the city once per zoom, plus the CP tiles.

The background (water, districts, parks, river, streets, street names) never changes, so it
is drawn by :meth:`CityScene.drawBackground` into the view's background cache (see
:mod:`citymap.background`) and live updates only ever repaint the tiles that changed over a
blit of that cache. District names are small items that ignore the zoom; each stands at its
anchor or, when a tile covers it there, at the nearest free spot of its district
(:mod:`citymap.labels`, again after each zoom and whenever tiles are added or moved). The
scene has an
explicit ``sceneRect`` (the city bounds plus a margin) and keeps Qt's default BSP index, as in
Qt's "40000 chips" demo: the rect never has to be recomputed and hit-testing among thousands
of tiles stays cheap.

Big networks (see :mod:`citymap.aggregate`):

- Tiles shrink with the network's density (:meth:`CityScene.tile_scale`, in steps of
  1/sqrt(2) from 1 down to 1/8 at ~10,000 CPs over the city), so neighbours do not cover
  each other when zoomed in; the view allows zooming in as much further.
- From ``AGGREGATE_MIN_TILES`` tiles on, a view zoomed out so far that tiles would be
  specks (``zoom * tile_scale < AGGREGATE_LOD``) switches the scene to the aggregated look:
  the tiles' common parent goes fully transparent (Qt then skips the whole subtree when
  painting and hit-testing, and selections are kept) and the :class:`AggregateLayer`
  shows per-cell summaries instead. One call either way, whatever the number of tiles.
- While aggregated, a change costs a few dict operations: the tile takes the data with its
  look deferred (:meth:`CpTile.set_data` ``defer=True``, styled when next painted) and the
  summary counts it by :meth:`TileStyle.bucket`, a colour looked up by state.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Iterable

from PySide6.QtCore import QObject, QPointF, QRectF, Signal
from PySide6.QtGui import QColor, QPainter, QPolygonF
from PySide6.QtWidgets import QGraphicsItem, QGraphicsRectItem, QGraphicsScene

from citymap.aggregate import AggregateLayer, Cell, StatusGrid
from citymap.background import CityBackground, DistrictLabel
from citymap.city import City, Point, load_city
from citymap.labels import free_spot
from citymap.tiles import CpTile, OperatorStyle, TileData, TileStyle

__all__ = ["CityScene"]

log = logging.getLogger(__name__)


def _points(polygon: tuple[Point, ...]) -> list[QPointF]:
    return [QPointF(x, y) for x, y in polygon]


class CityScene(QGraphicsScene):
    """The city background plus one :class:`CpTile` per charging point.

    Tiles live here (not in the view) so several views can show the same live network
    (the aggregated look follows the zoom of the view that last reported it).
    """

    MARGIN = 20.0
    AGGREGATE_MIN_TILES = 2000
    AGGREGATE_LOD = CpTile.FAR_LOD  # tile scale x zoom under which tiles are summarised
    TILE_SPACING = 75.0  # map units between neighbours for which tiles keep full size
    MIN_TILE_SCALE = 0.125
    LABELS_AVOID_MAX = 500  # tiles up to which district names move out from under them

    #: The aggregated look was switched on (True) or off (False).
    aggregationChanged = Signal(bool)  # noqa: N815 (Qt naming)

    def __init__(
        self,
        city: City | None = None,
        style: TileStyle | None = None,
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self.city = city if city is not None else load_city()
        self._style = style if style is not None else OperatorStyle()
        self._tiles: dict[str, CpTile] = {}
        m = self.MARGIN
        self.setSceneRect(QRectF(-m, -m, self.city.width + 2 * m, self.city.height + 2 * m))
        self.setBackgroundBrush(QColor("#e6e1d8"))
        self._background = CityBackground(self.city)
        self._labels: list[tuple[DistrictLabel, tuple[float, float], QPolygonF]] = []
        for district in self.city.districts:
            label = DistrictLabel(district.name, district.label_at)
            self.addItem(label)
            self._labels.append((label, district.label_at, QPolygonF(_points(district.polygon))))
        self._labels_dirty = False
        # Every tile is a child of this contentless item: hiding them all is one call.
        self._tile_layer = QGraphicsRectItem()
        self._tile_layer.setFlag(QGraphicsItem.GraphicsItemFlag.ItemHasNoContents, True)
        self._tile_layer.setZValue(CpTile.Z)
        self.addItem(self._tile_layer)
        self._grid = StatusGrid(self.city.width, self.city.height)
        self._summary = AggregateLayer(
            self._grid, self.sceneRect(), *self._summary_order(), city=self.city
        )
        self._summary.setVisible(False)
        self.addItem(self._summary)
        self._dirty_cells: set[Cell] = set()
        self._tile_scale = 1.0
        self._aggregated = False
        self._view_zoom: float | None = None

    # -- background ------------------------------------------------------------------------
    def drawBackground(self, painter: QPainter, rect: QRectF) -> None:  # noqa: N802 (Qt override)
        """The margin colour, then the city; cached by the view (``CacheBackground``)."""
        super().drawBackground(painter, rect)
        self._background.draw(painter, rect)

    # -- tiles -----------------------------------------------------------------------------
    @property
    def style(self) -> TileStyle:
        return self._style

    def set_style(self, style: TileStyle) -> None:
        """Switch every tile to another look strategy (repaints only tiles that change)."""
        self._style = style
        self._summary.set_order(*self._summary_order())
        for tile in self._tiles.values():
            tile.set_style(style)
            self._place(tile)
        self._repaint_summary()

    def tile(self, cp_id: str) -> CpTile | None:
        return self._tiles.get(cp_id)

    def tiles(self) -> list[CpTile]:
        return list(self._tiles.values())

    def tile_count(self) -> int:
        return len(self._tiles)

    def update_tile(self, data: TileData) -> bool:
        """Add the tile if new, else update it. Returns True if anything will be repainted."""
        changed = self._update_one(data)
        self._after_batch()
        return changed

    def update_tiles(self, batch: Iterable[TileData]) -> int:
        """Apply many updates at once; returns how many tiles will repaint (while
        summarised: how many hidden tiles took new data)."""
        if self._aggregated:
            changed = self._update_hidden(batch)
        else:
            changed = sum(1 for data in batch if self._update_one(data))
        self._after_batch()
        return changed

    def _update_hidden(self, batch: Iterable[TileData]) -> int:
        """The summarised case of :meth:`_update_one`, inlined: a restart storm sends every
        CP through here, and all it needs is the data kept and one summary count moved."""
        tiles, grid_set, bucket = self._tiles, self._grid.set, self._style.bucket
        dirty = self._dirty_cells
        changed = 0
        for data in batch:
            tile = tiles.get(data.cp_id)
            if tile is None:
                changed += self._update_one(data)
            elif tile.set_data(data, defer=True):
                changed += 1
                cell = grid_set(data.cp_id, data.x, data.y, bucket(data))
                if cell is not None:
                    dirty.add(cell)
        return changed

    def _update_one(self, data: TileData) -> bool:
        tile = self._tiles.get(data.cp_id)
        if tile is None:
            tile = CpTile(data, self._style)
            if self._tile_scale != 1.0:
                tile.setScale(self._tile_scale)
            self._tiles[data.cp_id] = tile
            tile.setParentItem(self._tile_layer)
            self._place(tile)
            self._labels_dirty = True
            return True
        old = tile.tile_data
        moved = data.x != old.x or data.y != old.y
        self._labels_dirty = self._labels_dirty or moved
        if tile.set_data(data, defer=self._aggregated) or moved:
            self._place(tile)
            return True
        return False

    def _place(self, tile: CpTile) -> None:
        """Count the tile in the summary grid (by its colour)."""
        data = tile.tile_data
        cell = self._grid.set(data.cp_id, data.x, data.y, self._style.bucket(data))
        if cell is not None:
            self._dirty_cells.add(cell)

    def _after_batch(self) -> None:
        """After adds/changes/removals: rescale tiles if the density changed, re-decide the
        look, repaint the summary cells that changed."""
        scale = self._scale_for(len(self._tiles))
        if scale != self._tile_scale:
            self._tile_scale = scale
            for tile in self._tiles.values():
                tile.setScale(scale)
            if self._view_zoom is not None:
                self.set_view_zoom(self._view_zoom)
        elif self._view_zoom is not None and self._aggregated != self.wants_aggregation(
            self._view_zoom
        ):
            self.set_view_zoom(self._view_zoom)
        if self._labels_dirty:
            self.place_labels()
        self._repaint_summary()

    def place_labels(self) -> None:
        """Each district name at its anchor, or beside the tiles that would cover it there
        (their size on screen follows the zoom, the names' does not). Skipped for networks
        so dense that tiles cover every district: their names stay at the anchors."""
        self._labels_dirty = False
        zoom = self._view_zoom or 1.0
        crowded = len(self._tiles) > self.LABELS_AVOID_MAX

        def blocked(rect: QRectF) -> bool:
            return any(isinstance(item, CpTile) for item in self.items(rect))

        for label, anchor, district in self._labels:
            if crowded:
                label.setPos(*anchor)
                continue
            r = label.boundingRect()
            box = QRectF(r.x() / zoom, r.y() / zoom, r.width() / zoom, r.height() / zoom)
            label.setPos(*free_spot(anchor, box, district, blocked))

    def _repaint_summary(self) -> None:
        if self._dirty_cells:
            if self._aggregated:
                self._summary.repaint_cells(self._dirty_cells)
            self._dirty_cells = set()

    def set_tiles(self, batch: Iterable[TileData]) -> None:
        """Make the map show exactly ``batch``: add new, update known, remove the rest."""
        wanted = {data.cp_id: data for data in batch}
        for cp_id in [k for k in self._tiles if k not in wanted]:
            self._remove_one(cp_id)
        self.update_tiles(wanted.values())

    def remove_tile(self, cp_id: str) -> bool:
        removed = self._remove_one(cp_id)
        if removed:
            self._after_batch()
        return removed

    def _remove_one(self, cp_id: str) -> bool:
        tile = self._tiles.pop(cp_id, None)
        if tile is None:
            return False
        self.removeItem(tile)
        self._labels_dirty = True
        cell = self._grid.remove(cp_id)
        if cell is not None:
            self._dirty_cells.add(cell)
        return True

    def clear_tiles(self) -> None:
        for cp_id in list(self._tiles):
            self._remove_one(cp_id)
        self._after_batch()

    def selected_ids(self) -> list[str]:
        return [item.cp_id for item in self.selectedItems() if isinstance(item, CpTile)]

    # -- big networks: tile size and the aggregated look ------------------------------------
    def tile_scale(self) -> float:
        """The tiles' size factor for the current density (1 for small networks)."""
        return self._tile_scale

    @property
    def grid(self) -> StatusGrid:
        return self._grid

    @property
    def summary_layer(self) -> AggregateLayer:
        return self._summary

    def aggregated(self) -> bool:
        return self._aggregated

    def wants_aggregation(self, zoom: float) -> bool:
        return (
            len(self._tiles) >= self.AGGREGATE_MIN_TILES
            and zoom * self._tile_scale < self.AGGREGATE_LOD
        )

    def set_view_zoom(self, zoom: float) -> None:
        """Told by the view after each zoom change: switch the look if needed."""
        if zoom != self._view_zoom:
            self._labels_dirty = True
        self._view_zoom = zoom
        if self._labels_dirty:
            self.place_labels()
        self.set_aggregated(self.wants_aggregation(zoom))

    def set_aggregated(self, on: bool) -> None:
        if on == self._aggregated:
            return
        self._aggregated = on
        self._tile_layer.setOpacity(0.0 if on else 1.0)
        self._summary.setVisible(on)
        self._dirty_cells = set()
        self.aggregationChanged.emit(on)

    def _scale_for(self, n: int) -> float:
        if n <= 1:
            return 1.0
        spacing = math.sqrt(self.city.width * self.city.height / n)
        wanted = spacing / self.TILE_SPACING
        if wanted >= 1:
            return 1.0
        # Steps of 1/sqrt(2): the scale (and every tile with it) changes only when the
        # network doubles or halves, not with each CP.
        steps = math.ceil(-2 * math.log2(wanted))
        return max(self.MIN_TILE_SCALE, 2 ** (-steps / 2))

    def _summary_order(self) -> tuple[list[int], dict[int, QColor]]:
        entries = self._style.legend_entries()
        return [c.rgba() for c, _ in entries], {c.rgba(): QColor(c) for c, _ in entries}
