"""Where ``make run`` puts its windows: the control center, the technician panels and the
drivers tiled over the screen, so a demo is readable at once (without a window manager's
help every window opened at 0,0, one over the other).

Each program takes ``--geometry WxH+X+Y``; :func:`window_places` computes one per window
(pure arithmetic, tested in ``tests/test_window_layout.py``) and :func:`screen_area` asks Qt
for the screen's free area (without the taskbar).

The control center takes the left part of the screen, whole. The other windows stand in one
or more columns on the right, in the order they open (panels first, then drivers): one under
the other when they fit; when they do not, they overlap evenly, each lower one over the one
above, so every panel's header (its CP and state) and every driver's title stay in sight
and the last window of a column is whole. A click on a window brings the rest of it forward.
"""

from __future__ import annotations

import subprocess
import sys

Rect = tuple[int, int, int, int]  # width, height, x, y (the order of WxH+X+Y)

# The windows' minimum size hints (a smaller geometry would be enlarged by Qt anyway).
CENTRAL_MIN_W = 900  # what a comfortable control center needs, when there is room
CENTRAL_SMALLEST = 460  # its minimum size hint
COLUMN_W = 760  # the driver's minimum width; a panel's is 640
DRIVER_H = 690
PANEL_H = 570
FALLBACK_SCREEN: Rect = (1920, 1080, 0, 0)


def geometry_arg(rect: Rect) -> str:
    width, height, x, y = rect
    return f"{width}x{height}+{x}+{y}"


def column(heights: list[int], area: Rect) -> list[Rect]:
    """Windows of the given heights in one column of ``area``, top to bottom."""
    width, height, x, y = area
    if sum(heights) <= height:
        tops, at = [], y
        for h in heights:
            tops.append(at)
            at += h
    else:  # overlapping evenly; the last one ends at the bottom
        room = max(0, height - heights[-1])
        steps = max(1, len(heights) - 1)
        tops = [y + room * i // steps for i in range(len(heights))]
    return [(width, h, x, top) for h, top in zip(heights, tops, strict=True)]


def window_places(
    screen: Rect, centrals: list[str], panels: list[str], drivers: list[str]
) -> dict[str, Rect]:
    """{window name: (width, height, x, y)} for every window of the demo."""
    width, height, x0, y0 = screen
    others = [(name, PANEL_H) for name in panels] + [(name, DRIVER_H) for name in drivers]
    # as many columns as the width allows beside a control center of CENTRAL_MIN_W at least,
    # and no more than it takes to have every window whole
    fit = max(1, (width - CENTRAL_MIN_W) // COLUMN_W)
    cols = 1
    while cols < fit and sum(h for _, h in others[: -(-len(others) // cols)]) > height:
        cols += 1
    # the columns as wide as a driver needs, the control center the rest (2/3 at most)
    left = max(CENTRAL_SMALLEST, min(width - cols * COLUMN_W, width * 2 // 3)) if others else width
    places: dict[str, Rect] = {}
    for i, name in enumerate(centrals):  # a pair's two Centrals: the standby a little offset
        places[name] = (left - 40 * i, height - 40 * i, x0 + 40 * i, y0 + 40 * i)
    if not others:
        return places
    col_w = (width - left) // cols
    per_col = -(-len(others) // cols)
    for c in range(cols):
        group = others[c * per_col : (c + 1) * per_col]
        if not group:
            continue
        area = (col_w, height, x0 + left + c * col_w, y0)
        for (name, _), rect in zip(group, column([h for _, h in group], area), strict=True):
            places[name] = rect
    return places


def screen_area(timeout: float = 20.0) -> Rect:
    """The primary screen's available area as Qt sees it (a throwaway process, so this
    script opens no window connection of its own); 1920x1080 if it cannot tell."""
    code = (
        "from PySide6.QtGui import QGuiApplication\n"
        "app = QGuiApplication([])\n"
        "g = app.primaryScreen().availableGeometry()\n"
        "print(g.width(), g.height(), g.x(), g.y())\n"
    )
    try:
        done = subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, timeout=timeout
        )
        w, h, x, y = (int(v) for v in done.stdout.split())
    except (OSError, ValueError, subprocess.TimeoutExpired):
        return FALLBACK_SCREEN
    return (w, h, x, y) if w > 0 and h > 0 else FALLBACK_SCREEN
