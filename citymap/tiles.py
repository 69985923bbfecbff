"""Charging-point tiles on the map: :class:`CpTile`, plus the data and styles it draws.

:class:`CpTile` follows Qt's "40000 chips" demo: one class, a constant ``boundingRect``,
level of detail chosen in ``paint()``, antialiasing off, ``update()`` only on change. Its
``paint()`` allocates nothing: colours are resolved when the data changes, fonts and laid-out
text lines come from :mod:`citymap.tiletext`'s shared caches, and a tile painted twice
unchanged keeps itself as a small pixmap.

While the scene hides the tiles (a big network zoomed out, see :mod:`citymap.aggregate`), a
change is taken with ``set_data(data, defer=True)``: the tile keeps the data (tooltips,
hit-tests and the app read it) but works out its look only when it is next painted or asked
for it, so a restart storm over 10,000 hidden tiles builds no look at all.

:class:`TileData`, :class:`TileLook`, :class:`TileStyle`, :class:`OperatorStyle`,
:class:`AvailabilityStyle` and :class:`CpStatus` live in :mod:`citymap.styles` and are
re-exported here (``from citymap.tiles import OperatorStyle`` keeps working).
"""

from __future__ import annotations

import math

from PySide6.QtCore import QRectF, Qt
from PySide6.QtGui import QColor, QPainter, QPen, QPixmap
from PySide6.QtWidgets import (
    QGraphicsItem,
    QGraphicsSceneHoverEvent,
    QStyleOptionGraphicsItem,
    QWidget,
)

from citymap.styles import (
    AvailabilityStyle,
    CpStatus,
    OperatorStyle,
    TileData,
    TileLook,
    TileStyle,
)
from citymap.tiletext import Line, LineSpec, fit_lines

__all__ = [
    "AvailabilityStyle",
    "CpStatus",
    "CpTile",
    "OperatorStyle",
    "TileData",
    "TileLook",
    "TileStyle",
]

_HOVER = QColor("#212529")  # hover outline
_AA = QPainter.RenderHint.Antialiasing
_SHADOW = QColor(0, 0, 0, 60)
_EDGES: dict[int, QColor] = {}  # fill rgba -> its darker edge, shared by all tiles


def _edge(fill: QColor) -> QColor:
    edge = _EDGES.get(rgba := fill.rgba())
    if edge is None:
        edge = _EDGES[rgba] = fill.darker(150)
    return edge


class CpTile(QGraphicsItem):
    """One charging point on the map.

    Scene-sized (it grows when zooming in, like the chips demo) with a constant
    ``boundingRect``; ``paint()`` picks the level of detail from the painter's transform:

    * far (``lod < FAR_LOD``): a small filled rectangle, cheap for thousands of CPs;
    * medium: the tile with the CP id and a one-line badge (or its short form, or the id
      alone, whichever fits: text is never clipped);
    * close (``lod >= CLOSE_LOD``): id, status legend and the live numbers.

    From medium zoom on, the tile is drawn in device pixels (crisp edges, exact font sizes)
    with integer ``fillRect`` calls and pre-laid-out ``QStaticText`` lines; the lines are
    fitted once per data change and on-screen size, not per paint. The view only scales
    and pans (no rotation), so the device box follows from the transform's scale and offset.
    """

    WIDTH = 60.0
    HEIGHT = 34.0
    FAR_LOD = 0.5
    CLOSE_LOD = 2.4
    MEDIUM_MAX_PX = 13  # text size caps: readable, and the tile's colour stays visible
    CLOSE_MAX_PX = 14
    # Device pixels up to which a tile keeps its rendering as a pixmap (<= ~50 kB each);
    # larger tiles are few on screen and drawn directly.
    CACHE_MAX_PIXELS = 150 * 85
    _RECT = QRectF(-WIDTH / 2, -HEIGHT / 2, WIDTH, HEIGHT)
    _DOT = QRectF(-WIDTH / 4, -HEIGHT / 4, WIDTH / 2, HEIGHT / 2)
    _OUTLINE = QRectF(-WIDTH / 2, -HEIGHT / 2, WIDTH - 0.01, HEIGHT - 0.01)
    _SELECTED = QColor("#1c7ed6")
    _SELECTED_PEN = QPen(_SELECTED, 2)
    _HOVER_PEN = QPen(_HOVER, 1)
    _FAR_SELECTED_PEN = QPen(_SELECTED, 0)
    _FAR_HOVER_PEN = QPen(_HOVER, 0)
    Z = 10.0

    def __init__(self, data: TileData, style: TileStyle) -> None:
        super().__init__()
        self._data = data
        self._style = style
        self._look = style.look(data)
        self._edge = _edge(self._look.fill)
        self._stale = False  # data changed since _look was worked out (deferred)
        self._text_key: tuple[int, int, bool] | None = None
        self._lines: tuple[Line, ...] = ()
        # The tile as last painted, kept as a pixmap once it is painted twice unchanged.
        self._painted_key: tuple[int, int, float, QPen | None] | None = None
        self._pixmap_key: tuple[int, int, float, QPen | None] | None = None
        self._pixmap: QPixmap | None = None
        self._hovered = False
        self._outline: QPen | None = None  # hover/selection pen, kept out of paint()
        self.setPos(data.x, data.y)
        self.setZValue(self.Z)
        self.setFlag(QGraphicsItem.GraphicsItemFlag.ItemIsSelectable, True)
        self.setAcceptHoverEvents(True)

    # -- data ------------------------------------------------------------------------------
    @property
    def cp_id(self) -> str:
        return self._data.cp_id

    @property
    def tile_data(self) -> TileData:
        """The current data (``data`` is taken by ``QGraphicsItem.data(key)``)."""
        return self._data

    @property
    def look(self) -> TileLook:
        if self._stale:
            self._refresh_look()
        return self._look

    def look_is_deferred(self) -> bool:
        """True while a change taken with ``defer=True`` has not been styled yet."""
        return self._stale

    def set_data(self, data: TileData, *, defer: bool = False) -> bool:
        """Adopt new data; repaint only if what is drawn changed. Returns True if it did.

        ``defer=True`` (the tile is hidden): keep the data, leave the look to the next
        ``paint()`` or :attr:`look`; returns True if the data changed.
        """
        old = self._data
        if data == old:
            return False
        self._data = data
        if data.x != old.x or data.y != old.y:
            self.setPos(data.x, data.y)  # moving repaints both places by itself
        if defer:
            self._stale = True
            return True
        return self._adopt(self._style.look(data))

    def set_style(self, style: TileStyle) -> None:
        self._style = style
        self._adopt(style.look(self._data))

    def _adopt(self, look: TileLook) -> bool:
        """Take a new look: resolve its colours now and drop the fitted text (refitted on the
        next paint, for whatever size the tile then has on screen)."""
        self._stale = False
        if look == self._look:
            return False  # (after deferred changes: still what was last painted)
        self._take(look)
        self.update()
        return True

    def _refresh_look(self) -> None:
        """Style the deferred data (from paint(): no update() needed)."""
        self._stale = False
        look = self._style.look(self._data)
        if look != self._look:
            self._take(look)

    def _take(self, look: TileLook) -> None:
        self._look = look
        self._edge = _edge(look.fill)
        self._text_key = None
        self._pixmap_key = self._painted_key = None  # the pixmap itself is reused if it fits

    # -- QGraphicsItem ---------------------------------------------------------------------
    def boundingRect(self) -> QRectF:  # noqa: N802 (Qt override)
        return self._RECT

    def itemChange(self, change: QGraphicsItem.GraphicsItemChange, value: object) -> object:  # noqa: N802
        if change == QGraphicsItem.GraphicsItemChange.ItemSelectedHasChanged:
            self._raise_if_focused()
        return super().itemChange(change, value)

    def hoverEnterEvent(self, event: QGraphicsSceneHoverEvent) -> None:  # noqa: N802
        self._hovered = True
        self._raise_if_focused()
        self.update()

    def hoverLeaveEvent(self, event: QGraphicsSceneHoverEvent) -> None:  # noqa: N802
        self._hovered = False
        self._raise_if_focused()
        self.update()

    def _raise_if_focused(self) -> None:
        """Bring a hovered/selected tile above its neighbours so its outline is visible."""
        selected = self.isSelected()
        self._outline = (
            self._SELECTED_PEN if selected else self._HOVER_PEN if self._hovered else None
        )
        self.setZValue(self.Z + 1 if self._outline is not None else self.Z)

    def paint(
        self,
        painter: QPainter,
        option: QStyleOptionGraphicsItem,
        widget: QWidget | None = None,
    ) -> None:
        if self._stale:
            self._refresh_look()
        transform = painter.worldTransform()
        lod = transform.m11()  # scale only (see class doc): cheaper than levelOfDetail...()
        look = self._look
        if lod < self.FAR_LOD:
            painter.setRenderHint(_AA, False)  # a crisp square, never a blurred one
            painter.fillRect(self._DOT, look.fill)
            if self._outline is not None:
                selected = self._outline is self._SELECTED_PEN
                painter.setPen(self._FAR_SELECTED_PEN if selected else self._FAR_HOVER_PEN)
                painter.setBrush(Qt.BrushStyle.NoBrush)
                painter.drawRect(self._OUTLINE)
            return

        # Device pixels from here on. Qt restores the painter state after each item.
        w = round(self.WIDTH * lod)
        h = round(self.HEIGHT * lod)
        x = math.floor(transform.dx() - w / 2)
        y = math.floor(transform.dy() - h / 2)
        painter.resetTransform()
        dpr = painter.device().devicePixelRatio()  # a window moved to another screen
        key = (w, h, dpr, self._outline)
        if key == self._pixmap_key:
            painter.drawPixmap(x, y, self._pixmap)
        elif key == self._painted_key and w * h * dpr * dpr <= self.CACHE_MAX_PIXELS:
            # Painted like this before and unchanged since: worth keeping as a pixmap.
            # Small tiles only: those are seen by the hundred, and memory stays bounded.
            pixmap = self._pixmap
            size = (round(w * dpr), round(h * dpr))
            if pixmap is None or (pixmap.width(), pixmap.height()) != size:
                pixmap = QPixmap(*size)
                pixmap.setDevicePixelRatio(dpr)
            pixmap.fill(Qt.GlobalColor.transparent)
            cache = QPainter(pixmap)
            cache.setRenderHints(painter.renderHints())
            self._draw(cache, 0, 0, w, h, lod >= self.CLOSE_LOD)
            cache.end()
            self._pixmap, self._pixmap_key = pixmap, key
            painter.drawPixmap(x, y, pixmap)
        else:
            self._painted_key = key
            self._draw(painter, x, y, w, h, lod >= self.CLOSE_LOD)

    def _draw(self, painter: QPainter, x: int, y: int, w: int, h: int, close: bool) -> None:
        """The tile as a ``w`` x ``h`` device-pixel box at (``x``, ``y``). Integer fillRect()s
        and static text never antialias, so only the outline needs the hint off."""
        look = self._look
        bw = w - 2  # the body; the 2 px left over are its drop shadow
        bh = h - 2
        painter.fillRect(x + 2, y + 2, bw, bh, _SHADOW)
        painter.fillRect(x, y, bw, bh, self._edge)  # 1 px edge around the fill below
        painter.fillRect(x + 1, y + 1, bw - 2, bh - 2, look.fill)
        stripe = 0
        if look.stripe is not None:
            stripe = max(3, bw // 14)
            painter.fillRect(x + 1, y + 1, stripe - 1, bh - 2, look.stripe)
        if self._outline is not None:
            painter.setRenderHint(_AA, False)
            painter.setPen(self._outline)
            painter.setBrush(Qt.BrushStyle.NoBrush)
            painter.drawRect(x + 1, y + 1, bw - 3, bh - 3)

        # Text box: the fill right of the stripe, less a 1 px gap on each side.
        inset = stripe + 1 if stripe else 2
        key = (w, h, close)
        if key != self._text_key:
            self._lines = self._fit(bw - 2 - inset, bh - 2, close)
            self._text_key = key
        if self._lines:
            painter.setPen(look.ink)
            left = x + inset
            top = y + 1
            for line in self._lines:
                painter.setFont(line.font)
                painter.drawStaticText(left + line.x, top + line.y, line.text)

    def _fit(self, width: int, height: int, close: bool) -> tuple[Line, ...]:
        """Choose and lay out the lines for a text box of this size (once per size/data)."""
        look = self._look
        ident: LineSpec = (self._data.cp_id, True, False)
        if close:
            legend: LineSpec = (look.legend, True, False)
            # Two detail lines fit legibly; further ones go to the tooltip only.
            details = tuple((line, False, True) for line in look.details[:2])
            candidates = ((ident, legend, *details), (ident, legend), (ident,))
            return fit_lines(candidates, width, height, self.CLOSE_MAX_PX, 4)
        medium = tuple((ident, (text, False, False)) for text in (look.badge, look.short) if text)
        return fit_lines((*medium, (ident,)), width, height, self.MEDIUM_MAX_PX, 2)
