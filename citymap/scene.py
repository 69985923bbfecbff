"""The city scene: background drawn once as items, plus the CP tiles keyed by id.

The background (water, districts, parks, river, streets, names) is built once from a
:class:`~citymap.city.City` and never touched again, so live updates only ever repaint the
tiles that changed. The scene has an explicit ``sceneRect`` (the city bounds plus a margin)
and keeps Qt's default BSP index, as in Qt's "40000 chips" demo: the rect never has to be
recomputed and hit-testing among thousands of tiles stays cheap.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Iterable

from PySide6.QtCore import QObject, QPointF, QRectF, Qt
from PySide6.QtGui import (
    QBrush,
    QColor,
    QFont,
    QFontMetricsF,
    QPainter,
    QPainterPath,
    QPainterPathStroker,
    QPen,
    QPolygonF,
)
from PySide6.QtWidgets import (
    QGraphicsItem,
    QGraphicsPathItem,
    QGraphicsScene,
    QStyleOptionGraphicsItem,
    QWidget,
)

from citymap.city import City, Point, StreetKind, load_city
from citymap.tiles import CpTile, OperatorStyle, TileData, TileStyle

__all__ = ["CityScene"]

log = logging.getLogger(__name__)

LAND = QColor("#f2efe9")
WATER = QColor("#a9d3e8")
WATER_EDGE = QColor("#7fb6d5")
PARK = QColor("#c5e6b0")
PARK_EDGE = QColor("#9cc98a")
STREET_CASING = QColor("#c9bfae")
STREET_CORE = QColor("#ffffff")
AVENUE_CASING = QColor("#d9a441")
AVENUE_CORE = QColor("#fde9a8")
DISTRICT_INK = QColor("#5c5247")
STREET_INK = QColor("#4a4036")

# Widths in map units (they scale with zoom, like a real map).
AVENUE_WIDTH = 7.0
STREET_WIDTH = 4.0
CASING_EXTRA = 1.6

# z-order of the layers; tiles sit at CpTile.Z (10) above all of them.
# The sea/lakes sit above the river so a river mouth simply disappears into the bay.
Z_DISTRICT, Z_PARK, Z_RIVER, Z_WATER = 0.0, 1.0, 2.0, 3.0
Z_CASING, Z_CORE, Z_STREET_NAME, Z_DISTRICT_NAME = 4.0, 5.0, 6.0, 7.0


def _polygon(points: Iterable[Point]) -> QPolygonF:
    return QPolygonF([QPointF(x, y) for x, y in points])


def _polyline_path(points: Iterable[Point]) -> QPainterPath:
    pts = list(points)
    path = QPainterPath(QPointF(*pts[0]))
    for x, y in pts[1:]:
        path.lineTo(x, y)
    return path


def _static(item: QGraphicsItem, z: float) -> QGraphicsItem:
    """Background items never take clicks or hovers: those belong to the tiles."""
    item.setZValue(z)
    item.setAcceptedMouseButtons(Qt.MouseButton.NoButton)
    item.setAcceptHoverEvents(False)
    return item


class _DistrictLabel(QGraphicsItem):
    """A district name in constant screen size (``ItemIgnoresTransformations``) with a halo.

    Cached as a small device pixmap: the text never changes, only its position on screen.
    """

    def __init__(self, text: str, at: Point) -> None:
        super().__init__()
        font = QFont()
        font.setPixelSize(13)
        font.setBold(True)
        font.setLetterSpacing(QFont.SpacingType.AbsoluteSpacing, 1.5)
        fm = QFontMetricsF(font)
        label = text.upper()
        width = fm.horizontalAdvance(label)
        self._path = QPainterPath()
        self._path.addText(-width / 2, fm.ascent() / 2 - 1, font, label)
        self._rect = self._path.boundingRect().adjusted(-4, -4, 4, 4)
        self.setPos(*at)
        self.setFlag(QGraphicsItem.GraphicsItemFlag.ItemIgnoresTransformations, True)
        self.setCacheMode(QGraphicsItem.CacheMode.DeviceCoordinateCache)

    def boundingRect(self) -> QRectF:  # noqa: N802 (Qt override)
        return self._rect

    def paint(
        self, painter: QPainter, option: QStyleOptionGraphicsItem, widget: QWidget | None = None
    ) -> None:
        painter.setRenderHint(QPainter.RenderHint.Antialiasing, True)
        painter.strokePath(self._path, QPen(QColor(255, 255, 255, 210), 3.5))
        painter.fillPath(self._path, DISTRICT_INK)


class _StreetLabel(QGraphicsItem):
    """A street name along its longest segment, drawn only when zoomed in enough to read.

    Scene-sized (it follows the street when zooming) and rotated to the segment, always
    reading left to right.
    """

    def __init__(self, name: str, points: tuple[Point, ...], kind: StreetKind) -> None:
        super().__init__()
        (x0, y0), (x1, y1) = max(
            zip(points, points[1:], strict=False),
            key=lambda seg: math.dist(seg[0], seg[1]),
        )
        angle = math.degrees(math.atan2(y1 - y0, x1 - x0))
        if angle > 90:
            angle -= 180
        elif angle < -90:
            angle += 180
        self.min_lod = 1.4 if kind == StreetKind.AVENUE else 2.6
        font = QFont()
        font.setPixelSize(6 if kind == StreetKind.AVENUE else 4)
        font.setItalic(kind == StreetKind.STREET)
        fm = QFontMetricsF(font)
        width = fm.horizontalAdvance(name)
        self._path = QPainterPath()
        self._path.addText(-width / 2, fm.ascent() / 2 - fm.descent() / 2, font, name)
        self._rect = self._path.boundingRect().adjusted(-2, -2, 2, 2)
        self.setPos((x0 + x1) / 2, (y0 + y1) / 2)
        self.setRotation(angle)
        # Hide labels longer than their segment: they would spill over crossings.
        self._fits = width <= math.dist((x0, y0), (x1, y1)) * 0.9

    def boundingRect(self) -> QRectF:  # noqa: N802 (Qt override)
        return self._rect

    def paint(
        self, painter: QPainter, option: QStyleOptionGraphicsItem, widget: QWidget | None = None
    ) -> None:
        lod = QStyleOptionGraphicsItem.levelOfDetailFromTransform(painter.worldTransform())
        if not self._fits or lod < self.min_lod:
            return
        painter.setRenderHint(QPainter.RenderHint.Antialiasing, True)
        painter.strokePath(self._path, QPen(QColor(255, 255, 255, 220), 1.2))
        painter.fillPath(self._path, STREET_INK)


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
        self._build_background()

    # -- background ------------------------------------------------------------------------
    def _build_background(self) -> None:
        city = self.city
        land = self.addRect(QRectF(0, 0, city.width, city.height), QPen(Qt.PenStyle.NoPen), LAND)
        _static(land, Z_DISTRICT - 1)

        for district in city.districts:
            fill = QColor(district.fill)
            fill.setAlpha(150)
            edge = QColor(district.fill).darker(130)
            pen = QPen(edge, 1.2, Qt.PenStyle.DashLine)
            pen.setCosmetic(True)
            _static(self.addPolygon(_polygon(district.polygon), pen, QBrush(fill)), Z_DISTRICT)

        water_pen = QPen(WATER_EDGE, 1.0)
        water_pen.setCosmetic(True)
        for area in city.water:
            _static(self.addPolygon(_polygon(area.polygon), water_pen, WATER), Z_WATER)

        park_pen = QPen(PARK_EDGE, 1.0)
        park_pen.setCosmetic(True)
        for park in city.parks:
            _static(self.addPolygon(_polygon(park.polygon), park_pen, PARK), Z_PARK)

        for river in city.rivers:
            path = _polyline_path(river.points)
            stroker = QPainterPathStroker()
            stroker.setWidth(river.width)
            stroker.setCapStyle(Qt.PenCapStyle.FlatCap)
            stroker.setJoinStyle(Qt.PenJoinStyle.RoundJoin)
            outline = stroker.createStroke(path).simplified()
            _static(self.addPath(outline, water_pen, WATER), Z_RIVER)

        for street in city.streets:
            width = AVENUE_WIDTH if street.kind == StreetKind.AVENUE else STREET_WIDTH
            casing = AVENUE_CASING if street.kind == StreetKind.AVENUE else STREET_CASING
            core = AVENUE_CORE if street.kind == StreetKind.AVENUE else STREET_CORE
            path = _polyline_path(street.points)
            z_bonus = 0.5 if street.kind == StreetKind.AVENUE else 0.0
            for colour, w, z in (
                (casing, width + CASING_EXTRA, Z_CASING + z_bonus),
                (core, width, Z_CORE + z_bonus),
            ):
                pen = QPen(colour, w, Qt.PenStyle.SolidLine, Qt.PenCapStyle.RoundCap)
                pen.setJoinStyle(Qt.PenJoinStyle.RoundJoin)
                item = QGraphicsPathItem(path)
                item.setPen(pen)
                self.addItem(_static(item, z))
            self.addItem(
                _static(_StreetLabel(street.name, street.points, street.kind), Z_STREET_NAME)
            )

        for district in city.districts:
            self.addItem(_static(_DistrictLabel(district.name, district.label_at), Z_DISTRICT_NAME))

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
