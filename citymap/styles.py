"""What a tile shows: the data an app hands over and the look strategy.

* :class:`TileData` is a plain frozen dataclass, so apps build it from their model rows
  without touching Qt, and equality tells the item whether anything changed.
* :class:`TileStyle` is the strategy that turns data into a :class:`TileLook` (colour,
  legend, text lines, tooltip). Central uses :class:`OperatorStyle` (SPEC colours); the driver
  client uses :class:`AvailabilityStyle` (available / busy / unavailable + price) or its own
  subclass. The item never decides colours itself.

Everything here is re-exported by :mod:`citymap.tiles` (and :mod:`citymap`).
"""

from __future__ import annotations

import html
from dataclasses import dataclass

from PySide6.QtGui import QColor

# CP states as SPEC names them (wire.states, re-exported here for map users);
# ``TileData.status`` also accepts the plain strings.
from wire.states import CpStatus

__all__ = [
    "AvailabilityStyle",
    "CpStatus",
    "OperatorStyle",
    "TileData",
    "TileLook",
    "TileStyle",
]


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

    ``badge`` is the one line shown under the id at medium zoom; ``short`` is what replaces
    it when the tile is too small for the badge (e.g. "22 kW" for "22kW 2.02 €"; empty: then
    only the id is shown). Text is never clipped: what does not fit is left to the tooltip.
    ``details`` are the lines shown close up (the first two, under the id and ``legend``) and
    in the tooltip. ``stripe`` is an optional accent bar on the tile's left edge, used to tell
    two states of the same colour apart at a glance (SPEC makes both ACTIVE and SUPPLYING
    green).
    """

    fill: QColor
    ink: QColor
    legend: str
    badge: str = ""
    details: tuple[str, ...] = ()
    stripe: QColor | None = None
    short: str = ""


def _money(value: float | None) -> str:
    return "–" if value is None else f"{value:.2f} €"


def _kw(value: float | None, *, compact: bool = False) -> str:
    if value is None:
        return "– kW"
    return f"{value:.0f}kW" if compact else f"{value:.1f} kW"


def _price(value: float | None) -> str:
    return "price n/a" if value is None else f"{value:.2f} €/kWh"


def _short_kw(value: float | None) -> str:
    return "– kW" if value is None else f"{value:.0f} kW"


class TileStyle:
    """Strategy deciding how a CP looks. Subclass and override :meth:`look` (required),
    :meth:`legend_entries` and :meth:`tooltip` to change the map's whole visual language
    without touching the item or the view.
    """

    def look(self, data: TileData) -> TileLook:
        """Colour, legend and text lines for ``data``."""
        raise NotImplementedError

    def bucket(self, data: TileData) -> int:
        """The colour ``data`` counts as in the zoomed-out summary: ``look(data).fill.rgba()``.

        Called for every change while the tiles are hidden (the summary is all that shows),
        so a subclass whose fill depends on few fields should answer without building a look.
        """
        return self.look(data).fill.rgba()

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

    def __init__(self) -> None:
        # state -> fill rgba (the summary bucket), for plain strings and CpStatus alike;
        # only used while look() is this class's own (a subclass may colour otherwise).
        self._buckets: dict[str, int] = {str(k): v[0].rgba() for k, v in self.COLOURS.items()}
        self._unknown_bucket = self.UNKNOWN[0].rgba()
        self._own_look = type(self).look is OperatorStyle.look

    def bucket(self, data: TileData) -> int:
        if not self._own_look:
            return super().bucket(data)
        bucket = self._buckets.get(data.status)  # one dict hit for SPEC's states
        return bucket if bucket is not None else self._buckets.get(data.state, self._unknown_bucket)

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
                short=_short_kw(data.kw),
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
    MINE_STRIPE = QColor("#a5d8ff")

    def __init__(self, own_driver_id: str | None = None) -> None:
        self.own_driver_id = own_driver_id

    def bucket(self, data: TileData) -> int:
        if type(self).look is not AvailabilityStyle.look:
            return super().bucket(data)
        state = data.state
        if state == CpStatus.SUPPLYING:
            mine = self.own_driver_id is not None and data.driver_id == self.own_driver_id
            return (self.MINE if mine else self.BUSY)[0].rgba()
        return (self.AVAILABLE if state == CpStatus.ACTIVE else self.UNAVAILABLE)[0].rgba()

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
                stripe=self.MINE_STRIPE,
                short=_short_kw(data.kw),
            )
        if data.state == CpStatus.ACTIVE:
            fill, ink, legend = self.AVAILABLE
        elif data.state == CpStatus.SUPPLYING:
            fill, ink, legend = self.BUSY
        else:
            fill, ink, legend = self.UNAVAILABLE
        details = (price,) + ((data.label_extra,) if data.label_extra else ())
        short = "" if data.price is None else f"{data.price:.2f} €"
        return TileLook(fill, ink, legend, badge=price, details=details, short=short)

    def legend_entries(self) -> list[tuple[QColor, str]]:
        entries = [self.AVAILABLE, self.BUSY, self.UNAVAILABLE]
        if self.own_driver_id is not None:
            entries.append(self.MINE)
        return [(fill, text) for fill, _ink, text in entries]
