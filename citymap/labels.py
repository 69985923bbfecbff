"""Where a district's name goes: at its anchor, or the nearest free spot in the district.

A name under a CP tile could not be read (CP-05 over "UNIVERSITY", CP-11 over "GREEN
HILLS"): the scene moves each name to the spot nearest its anchor where it covers no tile,
trying offsets of half its height and a quarter of its width, its centre always inside the
district. Pure geometry on Qt's value types; the scene says what is blocked.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator

from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QPolygonF

__all__ = ["free_spot", "spots"]

ROWS = 8  # offsets tried up and down: up to 4 label heights away
COLUMNS = 4  # and sideways: up to a label width away


def spots(x: float, y: float, width: float, height: float) -> Iterator[tuple[float, float]]:
    """Candidate centres around (x, y), nearest first (the anchor itself first)."""
    offsets = [
        (j * width / 4, k * height / 2)
        for k in range(-ROWS, ROWS + 1)
        for j in range(-COLUMNS, COLUMNS + 1)
    ]
    offsets.sort(key=lambda o: (math.hypot(o[0], o[1] * 2), abs(o[0])))
    for dx, dy in offsets:
        yield x + dx, y + dy


def free_spot(
    anchor: tuple[float, float],
    box: QRectF,
    district: QPolygonF,
    blocked: Callable[[QRectF], bool],
) -> tuple[float, float]:
    """Where to put a label whose box (around its position) is ``box``: the anchor if it
    covers no tile, else the nearest spot that does not and lies in the district, else the
    anchor (a district full of tiles: they are drawn over it)."""
    for x, y in spots(anchor[0], anchor[1], box.width(), box.height()):
        if (x, y) != anchor and not district.containsPoint(QPointF(x, y), Qt.FillRule.OddEvenFill):
            continue
        if not blocked(box.translated(x, y)):
            return x, y
    return anchor
