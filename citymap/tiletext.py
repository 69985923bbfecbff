"""Text on tiles: fonts, widths and pre-laid-out lines, cached and shared by all tiles.

Why a module of its own: a map of 1,000 CPs must not build a ``QFont``, measure a string or
lay out a line inside ``paint()``. Everything here is computed once per (text, pixel size,
weight) and shared by every tile; a tile keeps the :class:`Line` tuple it fitted for its
on-screen size until its data or the zoom changes (see ``CpTile``).

Lines are fitted, never clipped: a candidate set of lines is used only if every line fits the
tile at :data:`MIN_PX` or more (:data:`MIN_LONE_PX` for a line shown alone), otherwise the next
(shorter) candidate is tried. Only lines
marked as elidable (the close-up detail lines, whose full text is in the tooltip) may be cut
with an ellipsis.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

from PySide6.QtCore import Qt
from PySide6.QtGui import QFont, QFontMetrics, QStaticText, QTransform

__all__ = ["MIN_LONE_PX", "MIN_PX", "Line", "LineSpec", "fit_lines", "font"]

MIN_PX = 8  # below this, text is noise: show a shorter candidate (or none) instead
MIN_LONE_PX = 7  # ...except a line shown alone (the CP id on a small tile)

# (text, bold, elidable): one requested line of a candidate.
LineSpec = tuple[str, bool, bool]


@dataclass(frozen=True, slots=True)
class Line:
    """One laid-out line: draw ``text`` with ``font`` at (``x``, ``y``) of the text box."""

    font: QFont
    text: QStaticText
    x: int
    y: int


@lru_cache(maxsize=64)
def font(px: int, bold: bool) -> QFont:
    f = QFont()
    f.setPixelSize(px)
    f.setBold(bold)
    # Grey-scale antialiasing: a tile drawn directly and the same tile from its cached
    # pixmap (transparent, so no subpixel rendering) must look exactly alike.
    f.setStyleStrategy(QFont.StyleStrategy.NoSubpixelAntialias)
    return f


@lru_cache(maxsize=64)
def _metrics(px: int, bold: bool) -> QFontMetrics:
    return QFontMetrics(font(px, bold))


@lru_cache(maxsize=64)
def _height(px: int, bold: bool) -> int:
    return _metrics(px, bold).height()


@lru_cache(maxsize=32768)
def _advance(text: str, px: int, bold: bool) -> int:
    return _metrics(px, bold).horizontalAdvance(text)


@lru_cache(maxsize=8192)
def _elided(text: str, px: int, bold: bool, width: int) -> str:
    return _metrics(px, bold).elidedText(text, Qt.TextElideMode.ElideRight, width)


_IDENTITY = QTransform()


@lru_cache(maxsize=16384)
def _static(text: str, px: int, bold: bool) -> QStaticText:
    """A pre-laid-out text: ``drawStaticText`` is ~3x cheaper than ``drawText``.

    Shared between tiles (QStaticText is implicitly shared; "Active" at 10 px is laid out
    once for the whole map). Plain text, so an id like "<b>" is never read as HTML.
    """
    static = QStaticText(text)
    static.setTextFormat(Qt.TextFormat.PlainText)
    static.prepare(_IDENTITY, font(px, bold))
    return static


def _try(
    lines: Sequence[LineSpec], width: int, height: int, max_px: int, rows: int
) -> tuple[Line, ...] | None:
    """Lay ``lines`` out centred in a ``width`` x ``height`` box, or None if they do not fit.

    The font size follows the box split in ``rows`` rows (or more, for more lines), not the
    number of lines shown: an id shown alone is as big as an id with a line under it, so
    neighbouring tiles read alike. Bold lines (id, legend) are a size up, the others a size
    down.
    """
    if width <= 0 or height <= 0:
        return None
    floor = MIN_LONE_PX if len(lines) == 1 else MIN_PX
    base = min(max_px, int(height / max(rows, len(lines)) / 1.25))
    if base < floor:
        return None
    chosen: list[tuple[str, int, bool, int]] = []
    for text, bold, elidable in lines:
        px = base + 1 if bold else max(floor, base - 1)
        while px > floor and _advance(text, px, bold) > width:
            px -= 1
        advance = _advance(text, px, bold)
        if advance > width:
            if not elidable:
                return None
            text = _elided(text, px, bold, width)
            advance = _advance(text, px, bold)
        chosen.append((text, px, bold, advance))
    total = sum(_height(px, bold) for _text, px, bold, _adv in chosen)
    if total > height:
        return None
    y = (height - total) // 2
    out = []
    for text, px, bold, advance in chosen:
        out.append(Line(font(px, bold), _static(text, px, bold), (width - advance) // 2, y))
        y += _height(px, bold)
    return tuple(out)


@lru_cache(maxsize=16384)
def fit_lines(
    candidates: tuple[tuple[LineSpec, ...], ...], width: int, height: int, max_px: int, rows: int
) -> tuple[Line, ...]:
    """The first candidate whose lines all fit the box (each shrunk down to ``MIN_PX`` at
    most, elidable lines cut with "…"); ``()`` if none does: an empty tile beats clipped text.

    Cached: a CP flipping between a few states, or 1,000 tiles refitted after a zoom step
    and back, lays its lines out once per distinct text and size.
    """
    for lines in candidates:
        if lines and (laid := _try(lines, width, height, max_px, rows)) is not None:
            return laid
    return ()
