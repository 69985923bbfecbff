"""The city scene: the background drawn from the city once per zoom, plus the CP tiles.

The background (water, districts, parks, river, streets, street names) never changes, so it
is drawn by :meth:`CityScene.drawBackground` into the view's background cache (see
:mod:`citymap.background`) and live updates only ever repaint the tiles that changed over a
blit of that cache. District names are small items that ignore the zoom. The scene has an
explicit ``sceneRect`` (the city bounds plus a margin) and keeps Qt's default BSP index, as in
Qt's "40000 chips" demo: the rect never has to be recomputed and hit-testing among thousands
of tiles stays cheap.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable

from PySide6.QtCore import QObject, QRectF
from PySide6.QtGui import QColor, QPainter
from PySide6.QtWidgets import QGraphicsScene

from citymap.background import CityBackground, DistrictLabel
from citymap.city import City, load_city
from citymap.tiles import CpTile, OperatorStyle, TileData, TileStyle

__all__ = ["CityScene"]

log = logging.getLogger(__name__)


class CityScene(QGraphicsScene):
    """The city background plus one :class:`CpTile` per charging point.

    Tiles live here (not in the view) so several views can show the same live network.
    """

    MARGIN = 20.0

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
        for district in self.city.districts:
            self.addItem(DistrictLabel(district.name, district.label_at))

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
        for tile in self._tiles.values():
            tile.set_style(style)

    def tile(self, cp_id: str) -> CpTile | None:
        return self._tiles.get(cp_id)

    def tiles(self) -> list[CpTile]:
        return list(self._tiles.values())

    def update_tile(self, data: TileData) -> bool:
        """Add the tile if new, else update it. Returns True if anything will be repainted."""
        tile = self._tiles.get(data.cp_id)
        if tile is None:
            tile = CpTile(data, self._style)
            self._tiles[data.cp_id] = tile
            self.addItem(tile)
            return True
        return tile.set_data(data)

    def update_tiles(self, batch: Iterable[TileData]) -> int:
        """Apply many updates at once; returns how many tiles will repaint."""
        return sum(1 for data in batch if self.update_tile(data))

    def set_tiles(self, batch: Iterable[TileData]) -> None:
        """Make the map show exactly ``batch``: add new, update known, remove the rest."""
        wanted = {data.cp_id: data for data in batch}
        for cp_id in [k for k in self._tiles if k not in wanted]:
            self.remove_tile(cp_id)
        self.update_tiles(wanted.values())

    def remove_tile(self, cp_id: str) -> bool:
        tile = self._tiles.pop(cp_id, None)
        if tile is None:
            return False
        self.removeItem(tile)
        return True

    def clear_tiles(self) -> None:
        for cp_id in list(self._tiles):
            self.remove_tile(cp_id)

    def selected_ids(self) -> list[str]:
        return [item.cp_id for item in self.selectedItems() if isinstance(item, CpTile)]
