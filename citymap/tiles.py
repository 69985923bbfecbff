"""Charging-point tiles: the data an app hands over, the look strategy, and the item.

Split in three on purpose:

* :class:`TileData` is a plain frozen dataclass, so apps build it from their model rows
  without touching Qt, and equality tells the item whether anything changed.
* :class:`TileStyle` is the strategy that turns data into a :class:`TileLook` (colour,
  legend, text lines, tooltip). Central uses :class:`OperatorStyle` (SPEC colours); the driver
  client uses :class:`AvailabilityStyle` (available / busy / unavailable + price) or its own
  subclass. The item never decides colours itself.
* :class:`CpTile` follows Qt's "40000 chips" demo: one class, a constant ``boundingRect``,
  level of detail chosen in ``paint()``, antialiasing off, ``update()`` only on change.
"""

from __future__ import annotations

import html
from dataclasses import dataclass
from enum import StrEnum
from functools import lru_cache

from PySide6.QtCore import QRectF, Qt
from PySide6.QtGui import QColor, QFont, QFontMetrics, QPainter, QPen, QTransform
from PySide6.QtWidgets import (
    QGraphicsItem,
    QGraphicsSceneHoverEvent,
    QStyleOptionGraphicsItem,
    QWidget,
)

__all__ = [
    "AvailabilityStyle",
    "CpStatus",
    "CpTile",
    "OperatorStyle",
    "TileData",
    "TileLook",
    "TileStyle",
]


class CpStatus(StrEnum):
    """CP states as SPEC names them; ``TileData.status`` also accepts the plain strings."""

    ACTIVE = "ACTIVE"
    STOPPED = "STOPPED"
    SUPPLYING = "SUPPLYING"
    BROKEN = "BROKEN"
    DISCONNECTED = "DISCONNECTED"


@dataclass(frozen=True, slots=True)
class TileData:
    """Everything a tile shows about one CP. Immutable: build a new one per change.

    ``x``/``y`` are city map units (0..1000 x 0..700, y down). Live fields (``kw``, ``kwh``,
    ``eur``, ``driver_id``) are ``None`` when the CP is not supplying. ``label_extra`` is free
    text an app wants shown close up and in the tooltip (e.g. "authorized, plug in").
    """

    cp_id: str
    x: float
    y: float
    status: str = CpStatus.DISCONNECTED
    location: str = ""
    price: float | None = None  # €/kWh
    kw: float | None = None
    kwh: float | None = None
    eur: float | None = None
    driver_id: str | None = None
    label_extra: str = ""

    @property
    def state(self) -> str:
        """Upper-case status, so "supplying" and ``CpStatus.SUPPLYING`` look the same."""
        return str(self.status).upper()


@dataclass(frozen=True, slots=True)
class TileLook:
    """What a tile paints; computed once per data change, not once per paint.

    ``badge`` is the one short line shown under the id at medium zoom; ``details`` are the
    lines shown close up (the first two, under the id and ``legend``) and in the tooltip. ``stripe`` is an optional accent bar on
    the tile's left edge, used to tell two states of the same colour apart at a glance
    (SPEC makes both ACTIVE and SUPPLYING green).
    """

    fill: QColor
    ink: QColor
    legend: str
    badge: str = ""
    details: tuple[str, ...] = ()
    stripe: QColor | None = None


def _money(value: float | None) -> str:
    return "–" if value is None else f"{value:.2f} €"


def _kw(value: float | None, *, compact: bool = False) -> str:
    if value is None:
        return "– kW"
    return f"{value:.0f}kW" if compact else f"{value:.1f} kW"


def _price(value: float | None) -> str:
    return "price n/a" if value is None else f"{value:.2f} €/kWh"


class TileStyle:
    """Strategy deciding how a CP looks. Subclass and override :meth:`look` (required),
    :meth:`legend_entries` and :meth:`tooltip` to change the map's whole visual language
    without touching the item or the view.
    """

    def look(self, data: TileData) -> TileLook:
        """Colour, legend and text lines for ``data``."""
        raise NotImplementedError

    def legend_entries(self) -> list[tuple[QColor, str]]:
        """Swatches for :class:`~citymap.view.MapLegend`, in display order."""
        return []

    def tooltip(self, data: TileData) -> str:
        """Rich-text tooltip; computed lazily on hover, so it may be as detailed as needed."""
        look = self.look(data)
        rows = [f"<b>{html.escape(data.cp_id)}</b> — {html.escape(look.legend)}"]
        if data.location:
            rows.append(html.escape(data.location))
        rows.extend(html.escape(line) for line in look.details)
        if data.label_extra and data.label_extra not in look.details:
            rows.append(f"<i>{html.escape(data.label_extra)}</i>")
        return "<br>".join(rows)


_WHITE = QColor("#ffffff")
_DARK = QColor("#212529")


class OperatorStyle(TileStyle):
    """The control center's colours and legends, exactly as SPEC's state table says."""

    COLOURS: dict[str, tuple[QColor, QColor, str]] = {
        CpStatus.ACTIVE: (QColor("#2f9e44"), _WHITE, "Active"),
        CpStatus.STOPPED: (QColor("#f59f00"), _DARK, "Out of Order"),
        CpStatus.SUPPLYING: (QColor("#1f7a35"), _WHITE, "Supplying"),
        CpStatus.BROKEN: (QColor("#e03131"), _WHITE, "Broken"),
        CpStatus.DISCONNECTED: (QColor("#adb5bd"), _DARK, "Disconnected"),
    }
    UNKNOWN = (QColor("#ae3ec9"), _WHITE, "")
    SUPPLY_STRIPE = QColor("#b2f2bb")

    def look(self, data: TileData) -> TileLook:
        fill, ink, legend = self.COLOURS.get(data.state, self.UNKNOWN)
        legend = legend or data.state.title()
        if data.state == CpStatus.SUPPLYING:
            details = (
                f"{_kw(data.kw)} · {_money(data.eur)}",
                f"driver {data.driver_id or '?'}",
            )
            if data.kwh is not None:
                details += (f"{data.kwh:.2f} kWh",)
            return TileLook(
                fill,
                ink,
                legend,
                badge=f"{_kw(data.kw, compact=True)} {_money(data.eur)}",
                details=details,
                stripe=self.SUPPLY_STRIPE,
            )
        details = (_price(data.price),)
        if data.label_extra:
            details += (data.label_extra,)
        return TileLook(fill, ink, legend, badge=legend, details=details)

    def legend_entries(self) -> list[tuple[QColor, str]]:
        return [(fill, text) for fill, _ink, text in self.COLOURS.values()]


class AvailabilityStyle(TileStyle):
    """The driver's view: available / busy / unavailable, labelled with the price.

    Other drivers' ids and live numbers are never shown (SPEC: only the driver id is ever
    shown, and a driver sees only their own supply). Pass ``own_driver_id`` to highlight the
    CP that is serving *this* driver, with its live kW and €.
    """

    AVAILABLE = (QColor("#2f9e44"), _WHITE, "Available")
    BUSY = (QColor("#f59f00"), _DARK, "Busy")
    UNAVAILABLE = (QColor("#adb5bd"), _DARK, "Unavailable")
    MINE = (QColor("#1971c2"), _WHITE, "Your charge")

    def __init__(self, own_driver_id: str | None = None) -> None:
        self.own_driver_id = own_driver_id

    def look(self, data: TileData) -> TileLook:
        price = _price(data.price)
        if (
            self.own_driver_id is not None
            and data.driver_id == self.own_driver_id
            and data.state == CpStatus.SUPPLYING
        ):
            fill, ink, legend = self.MINE
            return TileLook(
                fill,
                ink,
                legend,
                badge=f"{_kw(data.kw, compact=True)} {_money(data.eur)}",
                details=(f"{_kw(data.kw)} · {_money(data.eur)}",),
                stripe=QColor("#a5d8ff"),
            )
        if data.state == CpStatus.ACTIVE:
            fill, ink, legend = self.AVAILABLE
        elif data.state == CpStatus.SUPPLYING:
            fill, ink, legend = self.BUSY
        else:
            fill, ink, legend = self.UNAVAILABLE
        details = (price,) + ((data.label_extra,) if data.label_extra else ())
        return TileLook(fill, ink, legend, badge=price, details=details)

    def legend_entries(self) -> list[tuple[QColor, str]]:
        entries = [self.AVAILABLE, self.BUSY, self.UNAVAILABLE]
        if self.own_driver_id is not None:
            entries.append(self.MINE)
        return [(fill, text) for fill, _ink, text in entries]


class CpTile(QGraphicsItem):
    """One charging point on the map.

    Scene-sized (it grows when zooming in, like the chips demo) with a constant
    ``boundingRect``; ``paint()`` picks the level of detail from the painter's transform:

    * far (``lod < FAR_LOD``): a small filled rectangle, cheap for thousands of CPs;
    * medium: the tile with the CP id and a one-line badge;
    * close (``lod >= CLOSE_LOD``): id, status legend and the live numbers.

    Text is laid out in device pixels so it stays crisp and never overflows the tile.
    """

    WIDTH = 60.0
    HEIGHT = 34.0
    FAR_LOD = 0.5
    CLOSE_LOD = 2.4
    _RECT = QRectF(-WIDTH / 2, -HEIGHT / 2, WIDTH, HEIGHT)
    _DOT = QRectF(-WIDTH / 4, -HEIGHT / 4, WIDTH / 2, HEIGHT / 2)
    _SELECTED = QColor("#1c7ed6")
    Z = 10.0

    def __init__(self, data: TileData, style: TileStyle) -> None:
        super().__init__()
        self._data = data
        self._style = style
        self._look = style.look(data)
        self._hovered = False
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
        return self._look

    def set_data(self, data: TileData) -> bool:
        """Adopt new data; repaint only if what is drawn changed. Returns True if it did."""
        if data == self._data:
            return False
        old = self._data
        self._data = data
        if (data.x, data.y) != (old.x, old.y):
            self.setPos(data.x, data.y)  # moving repaints both places by itself
        look = self._style.look(data)
        if look == self._look:
            return False
        self._look = look
        self.update()
        return True

    def set_style(self, style: TileStyle) -> None:
        self._style = style
        look = style.look(self._data)
        if look != self._look:
            self._look = look
            self.update()

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
        self.setZValue(self.Z + 1 if (self._hovered or self.isSelected()) else self.Z)

    def paint(
        self,
        painter: QPainter,
        option: QStyleOptionGraphicsItem,
        widget: QWidget | None = None,
    ) -> None:
        transform = painter.worldTransform()
        lod = QStyleOptionGraphicsItem.levelOfDetailFromTransform(transform)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing, False)
        look = self._look
        selected = self.isSelected()
        if lod < self.FAR_LOD:
            painter.fillRect(self._DOT, look.fill)
            if selected or self._hovered:
                painter.setPen(QPen(self._SELECTED if selected else _DARK, 0))
                painter.setBrush(Qt.BrushStyle.NoBrush)
                painter.drawRect(self._RECT.adjusted(0, 0, -0.01, -0.01))
            return

        # Work in device pixels from here on: crisp edges and exact font sizes.
        painter.save()
        box = transform.mapRect(self._RECT).toAlignedRect()
        painter.setWorldTransform(QTransform())
        body = box.adjusted(0, 0, -2, -2)
        painter.fillRect(body.translated(2, 2), QColor(0, 0, 0, 60))
        painter.fillRect(body, look.fill)
        if look.stripe is not None:
            painter.fillRect(
                body.adjusted(0, 0, -(body.width() - max(3, body.width() // 14)), 0), look.stripe
            )
        painter.setPen(QPen(look.fill.darker(150), 1))
        painter.setBrush(Qt.BrushStyle.NoBrush)
        painter.drawRect(body.adjusted(0, 0, -1, -1))
        if selected or self._hovered:
            painter.setPen(QPen(self._SELECTED if selected else _DARK, 2 if selected else 1))
            painter.drawRect(body.adjusted(1, 1, -1, -1))

        pad = max(2, body.width() // 14)
        text_box = QRectF(body.adjusted(pad, 1, -pad, -1))
        if lod >= self.CLOSE_LOD:
            lines = [(self._data.cp_id, True), (look.legend, True)]
            # Two detail lines fit legibly; further ones go to the tooltip only.
            lines += [(line, False) for line in look.details[:2]]
        elif look.badge and body.height() >= 24:
            lines = [(self._data.cp_id, True), (look.badge, False)]
        else:
            lines = [(self._data.cp_id, True)]
        self._draw_lines(painter, text_box, lines, look.ink)
        painter.restore()

    @staticmethod
    def _draw_lines(
        painter: QPainter, box: QRectF, lines: list[tuple[str, bool]], ink: QColor
    ) -> None:
        """Stack ``lines`` vertically centred in ``box``; the font follows the tile size."""
        line_h = box.height() / (len(lines) + 0.3)
        base_px = max(6, min(int(line_h * 0.78), 16))
        bold_px = base_px + (1 if len(lines) > 1 else 2)
        width = int(box.width())
        painter.setPen(ink)
        y = box.top() + (box.height() - line_h * len(lines)) / 2
        for text, is_bold in lines:
            font, shown = _fit_text(text, bold_px if is_bold else base_px, is_bold, width)
            painter.setFont(font)
            painter.drawText(
                QRectF(box.left(), y, box.width(), line_h), Qt.AlignmentFlag.AlignCenter, shown
            )
            y += line_h


@lru_cache(maxsize=128)
def _font(px: int, bold: bool) -> tuple[QFont, QFontMetrics]:
    font = QFont()
    font.setPixelSize(px)
    font.setBold(bold)
    return font, QFontMetrics(font)


@lru_cache(maxsize=8192)
def _fit_text(text: str, px: int, bold: bool, width: int) -> tuple[QFont, str]:
    """Shrink a little (down to 8 px) before eliding: ids, legends and numbers matter.

    Cached because thousands of tiles repaint the same few texts at the same sizes.
    """
    font, metrics = _font(px, bold)
    while px > 8 and metrics.horizontalAdvance(text) > width:
        px -= 1
        font, metrics = _font(px, bold)
    return font, metrics.elidedText(text, Qt.TextElideMode.ElideRight, width)
