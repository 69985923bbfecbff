"""The city under the tiles: land, districts, parks, water, streets and their names.

Why not one ``QGraphicsItem`` per shape: the background never changes, yet as items it was
repainted under every tile update (about 20 ms per full repaint of the map, more than the
1,000 tiles themselves). Drawn from :meth:`CityScene.drawBackground`, it lands in the view's
``CacheBackground`` pixmap instead: it is rendered again only when the zoom or the window
size changes (and only the newly exposed strips when panning), and a tile update costs a blit
of the background under the tile.

District names stay items (:class:`DistrictLabel`, ``ItemIgnoresTransformations``) so they
keep their screen size at every zoom and sit above the streets.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass

from PySide6.QtCore import QPointF, QRectF, Qt
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
    QTransform,
)
from PySide6.QtWidgets import QGraphicsItem, QStyleOptionGraphicsItem, QWidget

from citymap.city import City, Point, Street, StreetKind

__all__ = ["CityBackground", "DistrictLabel"]

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
DISTRICT_ALPHA = 150  # districts tint the land; their colours come from city.json

# Widths in map units (they scale with zoom, like a real map).
AVENUE_WIDTH = 7.0
STREET_WIDTH = 4.0
CASING_EXTRA = 1.6


def _polygon(points: Iterable[Point]) -> QPolygonF:
    return QPolygonF([QPointF(x, y) for x, y in points])


def _area_path(points: Iterable[Point]) -> QPainterPath:
    """The closed outline of an area (a district, a park, water)."""
    path = QPainterPath()
    path.addPolygon(_polygon(points))
    path.closeSubpath()
    return path


def _polyline_path(points: Iterable[Point]) -> QPainterPath:
    pts = list(points)
    path = QPainterPath(QPointF(*pts[0]))
    for x, y in pts[1:]:
        path.lineTo(x, y)
    return path


def _cosmetic(colour: QColor, width: float, style: Qt.PenStyle = Qt.PenStyle.SolidLine) -> QPen:
    pen = QPen(colour, width, style)
    pen.setCosmetic(True)
    return pen


def _over_land(colour: QColor, alpha: int) -> QColor:
    """``colour`` at ``alpha`` over the land, as one opaque colour: the same look as a
    translucent district (districts only ever lie on land), without blending every pixel."""
    a = alpha / 255
    return QColor.fromRgbF(
        colour.redF() * a + LAND.redF() * (1 - a),
        colour.greenF() * a + LAND.greenF() * (1 - a),
        colour.blueF() * a + LAND.blueF() * (1 - a),
    )


def _outline(path: QPainterPath, width: float, cap: Qt.PenCapStyle) -> QPainterPath:
    """A stroke turned into a fillable shape once, instead of stroking it on every render."""
    stroker = QPainterPathStroker()
    stroker.setWidth(width)
    stroker.setCapStyle(cap)
    stroker.setJoinStyle(Qt.PenJoinStyle.RoundJoin)
    return stroker.createStroke(path).simplified()


@dataclass(frozen=True, slots=True)
class _Shape:
    """One filled (and maybe outlined) shape of the background, in scene coordinates."""

    path: QPainterPath
    brush: QBrush
    pen: QPen | None
    bounds: QRectF


@dataclass(frozen=True, slots=True)
class _StreetName:
    """A street name along its longest segment, shown only once zoomed in enough to read."""

    path: QPainterPath  # already rotated and placed in scene coordinates
    min_lod: float
    bounds: QRectF


_NO_PEN = QPen(Qt.PenStyle.NoPen)
_HALO = QPen(QColor(255, 255, 255, 220), 1.2)
_STREET_INK = QBrush(STREET_INK)


class CityBackground:
    """Every static shape of a :class:`City`, built once, drawn in z order on request."""

    def __init__(self, city: City) -> None:
        self._shapes: list[_Shape] = []
        self._names: list[_StreetName] = []
        self._build(city)

    def _add(self, path: QPainterPath, fill: QColor, pen: QPen | None = None) -> None:
        bounds = path.boundingRect().adjusted(-2, -2, 2, 2)
        self._shapes.append(_Shape(path, QBrush(fill), pen, bounds))

    def _build(self, city: City) -> None:
        land = QPainterPath()
        land.addRect(QRectF(0, 0, city.width, city.height))
        self._add(land, LAND)

        for district in city.districts:
            fill = _over_land(QColor(district.fill), DISTRICT_ALPHA)
            edge = _cosmetic(QColor(district.fill).darker(130), 1.2, Qt.PenStyle.DashLine)
            self._add(_area_path(district.polygon), fill, edge)

        park_pen = _cosmetic(PARK_EDGE, 1.0)
        for park in city.parks:
            self._add(_area_path(park.polygon), PARK, park_pen)

        # The sea/lakes go over the river so a river mouth simply disappears into the bay.
        water_pen = _cosmetic(WATER_EDGE, 1.0)
        for river in city.rivers:
            outline = _outline(_polyline_path(river.points), river.width, Qt.PenCapStyle.FlatCap)
            self._add(outline, WATER, water_pen)
        for area in city.water:
            self._add(_area_path(area.polygon), WATER, water_pen)

        # Casings under cores, avenues over streets: crossings read as one network.
        streets = [s for s in city.streets if s.kind == StreetKind.STREET]
        avenues = [s for s in city.streets if s.kind == StreetKind.AVENUE]
        for group, width, colour in (
            (streets, STREET_WIDTH + CASING_EXTRA, STREET_CASING),
            (avenues, AVENUE_WIDTH + CASING_EXTRA, AVENUE_CASING),
            (streets, STREET_WIDTH, STREET_CORE),
            (avenues, AVENUE_WIDTH, AVENUE_CORE),
        ):
            for street in group:
                path = _polyline_path(street.points)
                self._add(_outline(path, width, Qt.PenCapStyle.RoundCap), colour)

        for street in city.streets:
            name = self._street_name(street)
            if name is not None:
                self._names.append(name)

    @staticmethod
    def _street_name(street: Street) -> _StreetName | None:
        """The name along the street's longest segment, reading left to right; None when it
        is longer than that segment (it would spill over the crossings)."""
        points = street.points
        (x0, y0), (x1, y1) = max(
            zip(points, points[1:], strict=False),
            key=lambda seg: math.dist(seg[0], seg[1]),
        )
        angle = math.degrees(math.atan2(y1 - y0, x1 - x0))
        if angle > 90:
            angle -= 180
        elif angle < -90:
            angle += 180
        avenue = street.kind == StreetKind.AVENUE
        font = QFont()
        font.setPixelSize(6 if avenue else 4)
        font.setItalic(not avenue)
        fm = QFontMetricsF(font)
        width = fm.horizontalAdvance(street.name)
        if width > math.dist((x0, y0), (x1, y1)) * 0.9:
            return None
        local = QPainterPath()
        local.addText(-width / 2, fm.ascent() / 2 - fm.descent() / 2, font, street.name)
        place = QTransform()
        place.translate((x0 + x1) / 2, (y0 + y1) / 2)
        place.rotate(angle)
        path = place.map(local)
        return _StreetName(path, 1.4 if avenue else 2.6, path.boundingRect().adjusted(-2, -2, 2, 2))

    def draw(self, painter: QPainter, exposed: QRectF) -> None:
        """Paint what intersects ``exposed`` (scene coordinates), antialiased."""
        painter.setRenderHint(QPainter.RenderHint.Antialiasing, True)
        for shape in self._shapes:
            if shape.bounds.intersects(exposed):
                painter.setPen(shape.pen if shape.pen is not None else _NO_PEN)
                painter.setBrush(shape.brush)
                painter.drawPath(shape.path)
        lod = painter.worldTransform().m11()
        for name in self._names:
            if lod >= name.min_lod and name.bounds.intersects(exposed):
                painter.strokePath(name.path, _HALO)
                painter.fillPath(name.path, _STREET_INK)


class DistrictLabel(QGraphicsItem):
    """A district name in constant screen size (``ItemIgnoresTransformations``) with a halo.

    Cached as a small device pixmap: the text never changes, only its position on screen.
    """

    Z = 7.0  # above the background, under the tiles (CpTile.Z)

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
        self.setZValue(self.Z)
        self.setFlag(QGraphicsItem.GraphicsItemFlag.ItemIgnoresTransformations, True)
        self.setCacheMode(QGraphicsItem.CacheMode.DeviceCoordinateCache)
        # Clicks and hovers belong to the tiles.
        self.setAcceptedMouseButtons(Qt.MouseButton.NoButton)
        self.setAcceptHoverEvents(False)

    def boundingRect(self) -> QRectF:  # noqa: N802 (Qt override)
        return self._rect

    def paint(
        self, painter: QPainter, option: QStyleOptionGraphicsItem, widget: QWidget | None = None
    ) -> None:
        painter.setRenderHint(QPainter.RenderHint.Antialiasing, True)
        painter.strokePath(self._path, QPen(QColor(255, 255, 255, 210), 3.5))
        painter.fillPath(self._path, DISTRICT_INK)
