"""``make run``'s window places (scripts/window_layout.py) and the programs' ``--geometry``
(issue 23, item 6): tiled over the screen instead of stacked at 0,0."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import pytest

from wire.cli import geometry

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "scripts"))
from window_layout import (  # noqa: E402
    COLUMN_W,
    DRIVER_H,
    PANEL_H,
    geometry_arg,
    window_places,
)

PANELS = [f"engine-CP-0{i}" for i in range(1, 6)]
DRIVERS = ["driver-D-001", "driver-D-002"]


def test_geometry_reads_x11_form() -> None:
    assert geometry("960x1040+0+0") == (960, 1040, 0, 0)
    assert geometry(geometry_arg((760, 570, 1160, 65))) == (760, 570, 1160, 65)
    for bad in ("960x1040", "x+0+0", "0x10+1+1", "axb+c+d", "10x10-5+5"):
        with pytest.raises(argparse.ArgumentTypeError):
            geometry(bad)


@pytest.mark.parametrize("screen", [(1920, 1080, 0, 0), (2560, 1440, 0, 0), (1600, 1000, 0, 0)])
def test_every_window_has_its_own_place_on_the_screen(screen) -> None:
    width, height, _, _ = screen
    places = window_places(screen, ["central"], PANELS, DRIVERS)
    assert set(places) == {"central", *PANELS, *DRIVERS}
    spots = [(x, y) for _, _, x, y in places.values()]
    assert len(set(spots)) == len(spots)  # nothing stacked on another window's corner
    for w, h, x, y in places.values():
        assert x >= 0 and x + w <= width and y >= 0 and y + h <= height
    cw, ch, cx, cy = places["central"]
    assert (cx, cy, ch) == (0, 0, height) and cw >= width // 3
    for name in PANELS + DRIVERS:  # none over the control center, each as wide as it needs
        w, h, x, _ = places[name]
        assert x >= cw and w >= COLUMN_W and h == (PANEL_H if name in PANELS else DRIVER_H)


def test_overlapping_windows_leave_each_header_in_sight() -> None:
    places = window_places((1920, 1080, 0, 0), ["central"], PANELS, DRIVERS)
    tops = [places[name][3] for name in PANELS + DRIVERS]
    gaps = [b - a for a, b in zip(tops, tops[1:], strict=False)]
    assert tops == sorted(tops) and min(gaps) >= 60
    assert places["driver-D-002"][3] + DRIVER_H == 1080  # the last one whole


def test_a_big_screen_fits_everything_side_by_side() -> None:
    places = window_places((3840, 2160, 0, 0), ["central"], PANELS, DRIVERS)
    rects = list(places.values())
    for i, (w, h, x, y) in enumerate(rects):
        for w2, h2, x2, y2 in rects[i + 1 :]:
            assert x + w <= x2 or x2 + w2 <= x or y + h <= y2 or y2 + h2 <= y  # no overlap
