"""The zoomed-out map of a big network: CPs summarised per grid cell.

With thousands of CPs the whole-city view cannot show one tile per CP: they overlap, and
painting 10,000 items costs ~100 ms per repaint. Far out the scene hides its tiles (one
opacity change on their common parent, see :class:`~citymap.scene.CityScene`) and shows
:class:`AggregateLayer` instead: one item that paints, per grid cell holding CPs, a square
striped in the colours of its CPs, each colour as wide as its share, with the count when
the cell is large enough to read it. A district where CPs went grey or red shows as a
grey or red patch; the tooltip gives the counts.

:class:`StatusGrid` keeps the counts incrementally at a few cell sizes (a change moves one
CP between two buckets of one cell per size), so a CP update costs a few dict operations
and the layer repaints only the cells that changed. ``paint()`` picks the cell size from the
zoom (level of detail, as in Qt's "40000 chips" demo) and draws in device pixels.

Given the city, a cell on the coast draws its square on the land part of the cell, never
over the water (:class:`~citymap.land.LandMask`, worked out once per cell when first
painted); a cell inland keeps its plain square.
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterable

from PySide6.QtCore import QRect, QRectF, Qt
from PySide6.QtGui import QColor, QFont, QFontMetrics, QPainter, QPen
from PySide6.QtWidgets import QGraphicsItem, QStyleOptionGraphicsItem, QWidget

from citymap.city import City
from citymap.land import NO_FIT, LandMask

__all__ = ["AggregateLayer", "StatusGrid"]

Cell = tuple[int, int]


class StatusGrid:
    """How many CPs of each colour bucket lie in each grid cell, at several cell sizes.

    ``bucket`` is any hashable (the scene uses the tile's fill colour, so the summary speaks
    the same colour language as the tiles, whatever the style). Positions outside the grid
    count in the nearest edge cell: a CP is never left out of the totals.

    Each cell holds a list of counts indexed by bucket slot (buckets get a slot when first
    seen; there are a handful), so a state change is two list increments per level: a
    restart storm of 10,000 changes costs a few milliseconds.
    """

    SIZES: tuple[float, ...] = (100.0, 50.0, 25.0, 12.5)  # map units, coarse to fine

    def __init__(self, width: float, height: float) -> None:
        self.width = width
        self.height = height
        self._dims = [
            (max(1, math.ceil(width / s)), max(1, math.ceil(height / s))) for s in self.SIZES
        ]
        self._slot: dict[object, int] = {}  # bucket -> index into every cell's counts
        self._buckets: list[object] = []  # index -> bucket
        self._cells: list[dict[Cell, list[int]]] = [{} for _ in self.SIZES]
        # Per cell: [sum of x, sum of y] of its CPs (where a square with no land fits goes).
        self._sums: list[dict[Cell, list[float]]] = [{} for _ in self.SIZES]
        # key -> (bucket slot, x, y, its cell at each level)
        self._where: dict[str, tuple[int, float, float, tuple[Cell, ...]]] = {}

    def __len__(self) -> int:
        return len(self._where)

    def cell_of(self, level: int, x: float, y: float) -> Cell:
        size = self.SIZES[level]
        cols, rows = self._dims[level]
        return (min(cols - 1, max(0, int(x // size))), min(rows - 1, max(0, int(y // size))))

    def cell_rect(self, level: int, cell: Cell) -> QRectF:
        size = self.SIZES[level]
        return QRectF(cell[0] * size, cell[1] * size, size, size)

    def slot(self, bucket: object) -> int:
        """The index of ``bucket`` in the count lists (a new bucket widens every list)."""
        slot = self._slot.get(bucket)
        if slot is None:
            slot = self._slot[bucket] = len(self._buckets)
            self._buckets.append(bucket)
            for cells in self._cells:
                for counts in cells.values():
                    counts.append(0)
        return slot

    def buckets(self) -> list[object]:
        """Every bucket seen so far, by slot (do not modify)."""
        return self._buckets

    def set(self, key: str, x: float, y: float, bucket: object) -> Cell | None:
        """Place or move ``key``; returns the coarse cell to repaint (``(-1, -1)``: more
        than one), or None if nothing the summary shows changed."""
        slot = self._slot.get(bucket)
        if slot is None:
            slot = self.slot(bucket)
        old = self._where.get(key)
        if old is not None and old[1] == x and old[2] == y:
            old_slot, cells = old[0], old[3]
            if old_slot == slot:
                return None
            # A state change (a restart storm is 10,000 of them): same cells, one CP from
            # one slot to another at each level.
            self._where[key] = (slot, x, y, cells)
            for level_cells, cell in zip(self._cells, cells, strict=True):
                counts = level_cells[cell]
                counts[old_slot] -= 1
                counts[slot] += 1
            return cells[0]
        cells = tuple(self.cell_of(level, x, y) for level in range(len(self.SIZES)))
        self._where[key] = (slot, x, y, cells)
        if old is not None:
            self._move(old[0], old[3], -1, old[1], old[2])
        self._move(slot, cells, +1, x, y)
        if old is not None and old[3][0] != cells[0]:
            return (-1, -1)  # moved to another coarse cell: the caller repaints everything
        return cells[0]

    def remove(self, key: str) -> Cell | None:
        old = self._where.pop(key, None)
        if old is None:
            return None
        self._move(old[0], old[3], -1, old[1], old[2])
        return old[3][0]

    def clear(self) -> None:
        self._where.clear()
        for cells in (*self._cells, *self._sums):
            cells.clear()

    def _move(self, slot: int, where: tuple[Cell, ...], delta: int, x: float, y: float) -> None:
        width = len(self._buckets)
        for cells, sums, cell in zip(self._cells, self._sums, where, strict=True):
            counts = cells.get(cell)
            if counts is None:
                counts = cells[cell] = [0] * width
                sums[cell] = [0.0, 0.0]
            counts[slot] += delta
            if delta < 0 and not any(counts):
                del cells[cell]
                del sums[cell]
            else:
                total = sums[cell]
                total[0] += delta * x
                total[1] += delta * y

    def mean(self, level: int, cell: Cell) -> tuple[float, float] | None:
        """The mean position of the CPs in ``cell`` (None if it holds none)."""
        counts = self._cells[level].get(cell)
        if not counts:
            return None
        n = sum(counts)
        sx, sy = self._sums[level][cell]
        return (sx / n, sy / n)

    def count_lists(self, level: int) -> dict[Cell, list[int]]:
        """``{cell: counts by slot}`` of the non-empty cells at ``level`` (do not modify;
        for painting: see :meth:`buckets`)."""
        return self._cells[level]

    def cells(self, level: int) -> dict[Cell, dict[object, int]]:
        """``{cell: {bucket: count}}`` of the non-empty cells at ``level`` (a copy)."""
        return {cell: self._named(counts) for cell, counts in self._cells[level].items()}

    def counts_at(self, level: int, x: float, y: float) -> dict[object, int]:
        counts = self._cells[level].get(self.cell_of(level, x, y))
        return {} if counts is None else self._named(counts)

    def totals(self) -> dict[object, int]:
        sums = [0] * len(self._buckets)
        for counts in self._cells[0].values():
            for slot, n in enumerate(counts):
                sums[slot] += n
        return self._named(sums)

    def _named(self, counts: list[int]) -> dict[object, int]:
        return {self._buckets[slot]: n for slot, n in enumerate(counts) if n}


class AggregateLayer(QGraphicsItem):
    """Paints a :class:`StatusGrid` as striped cells; one item for the whole network.

    ``order`` lists the buckets in legend order (stripes follow it; unknown buckets come
    last). The cell size is the smallest of ``StatusGrid.SIZES`` that is at least
    ``MIN_CELL_PX`` on screen.
    """

    MIN_CELL_PX = 30
    LABEL_MIN_PX = 56  # cells at least this big show their count (smaller: the tooltip)
    NO_FIT_SIDES = (0.4, 0.3, 0.22)  # of the plain square: a cell whose land holds none
    LABEL_MIN_BOX_PX = 30  # ...if their square (smaller on the coast) is at least this wide
    INSET = 0.14  # of a cell, on each side: the city (streets, water) stays visible between
    Z = 6.0  # over the background, under the district names (DistrictLabel.Z)
    _EDGE = QColor(33, 37, 41, 150)
    _LABEL_BG = QColor(255, 255, 255, 215)
    _LABEL_INK = QColor("#212529")

    def __init__(
        self,
        grid: StatusGrid,
        bounds: QRectF,
        order: Iterable[object],
        colours: dict,
        *,
        city: City | None = None,
    ) -> None:
        super().__init__()
        self._grid = grid
        self._city = city
        self._land: LandMask | None = None  # built on first use (a few ms, big networks only)
        self._bounds = QRectF(bounds)
        self._order: list[object] = list(order)
        self._colours: dict[object, QColor] = dict(colours)
        self._font = QFont()
        self._font.setPixelSize(11)
        self._font.setBold(True)
        self._digit_px = QFontMetrics(self._font).horizontalAdvance("0,")
        self._edge_pen = QPen(self._EDGE, 1)
        self.setZValue(self.Z)
        self.setFlag(QGraphicsItem.GraphicsItemFlag.ItemUsesExtendedStyleOption, True)
        self.setAcceptedMouseButtons(Qt.MouseButton.NoButton)  # the view handles clicks
        #: Duration of the last paint in seconds (benchmarks read it).
        self.last_paint_seconds = 0.0

    def set_order(self, order: Iterable[object], colours: dict) -> None:
        self._order = list(order)
        self._colours = dict(colours)
        self.update()

    def colour(self, bucket: object) -> QColor:
        colour = self._colours.get(bucket)
        if colour is None and isinstance(bucket, int):
            colour = self._colours[bucket] = QColor.fromRgba(bucket)
        return colour if colour is not None else QColor("#ae3ec9")

    def level_for(self, zoom: float) -> int:
        """The finest cell size that is still ``MIN_CELL_PX`` wide at ``zoom``."""
        for level in range(len(StatusGrid.SIZES) - 1, -1, -1):
            if StatusGrid.SIZES[level] * zoom >= self.MIN_CELL_PX:
                return level
        return 0

    def land(self) -> LandMask | None:
        """The city's land mask (None without a city)."""
        if self._land is None and self._city is not None:
            self._land = LandMask(self._city)
        return self._land

    def cell_box(self, level: int, cell: Cell) -> QRectF:
        """Where cell ``cell``'s square is drawn at ``level``, in map units: the cell less
        ``INSET``, or on the coast the part of it that is land."""
        size = StatusGrid.SIZES[level]
        box = self._box(level, size, cell[0], cell[1])
        if box is not None:
            left, top, right, bottom = box
            return QRectF(left, top, right - left, bottom - top)
        inset = size * self.INSET
        return self._grid.cell_rect(level, cell).adjusted(inset, inset, -inset, -inset)

    def _box(self, level: int, size: float, i: int, j: int) -> tuple[float, ...] | None:
        """The cell's square in map units, or None for the plain (inset) square."""
        land = self.land()
        if land is None:
            return None
        box = land.land_box(size, i, j, size * self.INSET)
        if box is not NO_FIT:
            return box
        # No square fits on the land here: a small one centred on the CPs, inside the cell.
        mean = self._grid.mean(level, (i, j))
        if mean is None:
            return None
        x, y = mean  # (may be near the cell's edge: the square may reach a little over it)
        for side in self.NO_FIT_SIDES:  # as big as the land around the CPs allows
            half = size * (1 - 2 * self.INSET) * side / 2
            box = (x - half, y - half, x + half, y + half)
            if land.fraction(*box) >= land.ALL_LAND:
                break
        return box

    def repaint_cells(self, coarse: Iterable[Cell]) -> None:
        """Schedule a repaint of these coarse cells (``(-1, -1)``: everything)."""
        cells = set(coarse)
        if not cells:
            return
        if (-1, -1) in cells or len(cells) > 40:
            self.update()
            return
        for cell in cells:
            self.update(self._grid.cell_rect(0, cell).adjusted(-1, -1, 1, 1))

    # -- QGraphicsItem ---------------------------------------------------------------------
    def boundingRect(self) -> QRectF:  # noqa: N802 (Qt override)
        return self._bounds

    def paint(
        self,
        painter: QPainter,
        option: QStyleOptionGraphicsItem,
        widget: QWidget | None = None,
    ) -> None:
        started = time.perf_counter()
        transform = painter.worldTransform()
        zoom, dx, dy = transform.m11(), transform.dx(), transform.dy()
        level = self.level_for(zoom)
        size = StatusGrid.SIZES[level]
        exposed = option.exposedRect
        # Cells (in grid coordinates) that intersect the exposed rect.
        i0, j0 = int(exposed.left() // size) - 1, int(exposed.top() // size) - 1
        i1, j1 = int(exposed.right() // size) + 1, int(exposed.bottom() // size) + 1
        painter.resetTransform()
        painter.setRenderHint(QPainter.RenderHint.Antialiasing, False)
        step = size * zoom
        inset = max(1, round(step * self.INSET))
        label = step >= self.LABEL_MIN_PX
        if label:
            painter.setFont(self._font)
        colour = self.colour
        fill = painter.fillRect
        cell_box = self._box
        grid = self._grid
        # Slots in legend order, then any other bucket (e.g. a style's unknown colour).
        known = [grid.slot(bucket) for bucket in self._order]
        slots = known + [s for s in range(len(grid.buckets())) if s not in known]
        colours = [colour(grid.buckets()[s]) for s in slots]
        for (i, j), counts in grid.count_lists(level).items():
            if not (i0 <= i <= i1 and j0 <= j <= j1):
                continue
            box = cell_box(level, size, i, j)
            if box is None:
                left = round(i * step + dx) + inset
                top = round(j * step + dy) + inset
                right = round((i + 1) * step + dx) - inset
                bottom = round((j + 1) * step + dy) - inset
            else:  # on the coast: the land part of the cell
                left = round(box[0] * zoom + dx)
                top = round(box[1] * zoom + dy)
                right = round(box[2] * zoom + dx)
                bottom = round(box[3] * zoom + dy)
            width = right - left
            total = sum(counts)
            x = left
            seen = 0
            for slot, ink in zip(slots, colours, strict=True):
                n = counts[slot]
                if not n:
                    continue
                seen += n
                end = left + round(width * seen / total)
                if end > x:
                    fill(x, top, end - x, bottom - top, ink)
                    x = end
            if width > 4:
                painter.setPen(self._edge_pen)
                painter.setBrush(Qt.BrushStyle.NoBrush)
                painter.drawRect(left, top, width - 1, bottom - top - 1)
            if label and width >= self.LABEL_MIN_BOX_PX:
                text = f"{total:,}"
                band_w = min(width - 6, self._digit_px * len(text) // 2 + 8)
                band = QRect(left + (width - band_w) // 2, bottom - 17, band_w, 14)
                fill(band, self._LABEL_BG)
                painter.setPen(self._LABEL_INK)
                painter.drawText(band, Qt.AlignmentFlag.AlignCenter, text)
        self.last_paint_seconds = time.perf_counter() - started
