"""Where the zoomed-out summary may draw: the city's land, as a raster with fast area sums.

District outlines reach into the sea (the water is drawn over them), so a summary cell on
the coast drawn as its plain grid square sits partly or wholly over the water, where no
charging point can be. :class:`LandMask` rasterises the land once (districts minus water,
``RES`` map units a pixel, in C++ through ``QPainter``) and keeps a summed-area table of it,
so "how much of this rectangle is land" is four look-ups. :meth:`LandMask.land_box` uses it
to place a coastal cell's square on the land part of the cell: the largest square (of a few
sizes) that lies on land, as close as possible to where the plain square would be. Results
are cached per cell; a cell that is all land keeps its plain square. Where no square fits
(a pier, a spit of land in a cell that is nearly all sea) the answer is :data:`NO_FIT`: the
summary then centres a small square on the charging points themselves.
"""

from __future__ import annotations

import math
from itertools import accumulate

from PySide6.QtCore import QPointF, Qt
from PySide6.QtGui import QColor, QImage, QPainter, QPolygonF

from citymap.city import City

__all__ = ["NO_FIT", "LandMask"]

_BOX = tuple[float, float, float, float]  # left, top, right, bottom in map units

#: :meth:`LandMask.land_box`'s answer when no square of the sizes tried lies on land.
NO_FIT: tuple[float, ...] = ()


class LandMask:
    """The land of ``city`` (inside a district, outside the water) at ``RES`` units a pixel."""

    RES = 2.0
    ALL_LAND = 0.99  # a box at least this much land counts as on land (coast pixels)
    SHRINK = (1.0, 0.8, 0.64, 0.5, 0.4, 0.32, 0.25)  # box sizes tried on the coast, largest first
    STEPS = 6  # positions tried per axis for each size

    def __init__(self, city: City) -> None:
        res = self.RES
        self.width = max(1, math.ceil(city.width / res))
        self.height = max(1, math.ceil(city.height / res))
        image = QImage(self.width, self.height, QImage.Format.Format_Grayscale8)
        image.fill(0)
        painter = QPainter(image)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing, False)
        painter.scale(1 / res, 1 / res)
        painter.setPen(Qt.PenStyle.NoPen)
        for areas, value in ((city.districts, 1), (city.water, 0)):
            painter.setBrush(QColor(value, value, value))
            for area in areas:
                painter.drawPolygon(QPolygonF([QPointF(x, y) for x, y in area.polygon]))
        painter.end()
        # Summed-area table: _sat[j][i] = land pixels in rows < j and columns < i.
        bits = bytes(image.constBits())
        stride = image.bytesPerLine()
        previous = [0] * (self.width + 1)
        self._sat: list[list[int]] = [previous]
        for j in range(self.height):
            row = bits[j * stride : j * stride + self.width]
            previous = [a + b for a, b in zip(previous, (0, *accumulate(row)), strict=True)]
            self._sat.append(previous)
        self._boxes: dict[tuple[float, int, int], _BOX | None] = {}

    def fraction(self, left: float, top: float, right: float, bottom: float) -> float:
        """The share of the rectangle (map units) that is land, 0..1."""
        res = self.RES
        # Every pixel the rectangle touches counts: an "all land" answer errs on the safe side.
        i0 = min(self.width - 1, max(0, math.floor(left / res)))
        j0 = min(self.height - 1, max(0, math.floor(top / res)))
        i1 = min(self.width, max(i0 + 1, math.ceil(right / res)))
        j1 = min(self.height, max(j0 + 1, math.ceil(bottom / res)))
        sat = self._sat
        land = sat[j1][i1] - sat[j0][i1] - sat[j1][i0] + sat[j0][i0]
        return land / ((i1 - i0) * (j1 - j0))

    def is_land(self, x: float, y: float) -> bool:
        """True if the pixel holding (x, y) is land."""
        return self.fraction(x, y, x, y) > 0.5

    def land_box(self, size: float, col: int, row: int, inset: float) -> _BOX | tuple[()] | None:
        """Where to draw the square of grid cell (``col``, ``row``) of side ``size``.

        None: the plain square (the cell less ``inset`` on each side) lies on land.
        :data:`NO_FIT`: no square of the sizes tried lies on land. Otherwise the box, in
        map units, inside the cell.
        """
        key = (size, col, row)
        if key in self._boxes:
            return self._boxes[key]
        box = self._find(size, col * size, row * size, inset)
        self._boxes[key] = box
        return box

    def _find(self, size: float, x0: float, y0: float, inset: float) -> _BOX | tuple[()] | None:
        side = size - 2 * inset
        if self.fraction(x0 + inset, y0 + inset, x0 + size - inset, y0 + size - inset) >= (
            self.ALL_LAND
        ):
            return None
        gap = inset / 2  # a coastal square may come closer to the cell's edge
        cx, cy = x0 + size / 2, y0 + size / 2
        steps = self.STEPS - 1
        for factor in self.SHRINK:
            w = side * factor
            room = max(0.0, size - 2 * gap - w)
            best: tuple[float, _BOX] | None = None
            for a in range(self.STEPS):
                left = x0 + gap + room * a / steps
                for b in range(self.STEPS):
                    top = y0 + gap + room * b / steps
                    if self.fraction(left, top, left + w, top + w) < self.ALL_LAND:
                        continue
                    dist = math.hypot(left + w / 2 - cx, top + w / 2 - cy)
                    if best is None or dist < best[0]:
                        best = (dist, (left, top, left + w, top + w))
            if best is not None:
                return best[1]
        return NO_FIT
