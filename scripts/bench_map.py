"""Benchmark the city map with many CPs: how fast updates apply and how long a repaint takes.

Why: issue 4 asks the control center to stay smooth with 1,000 CPs updating every second.
This prints figures instead of asserting timings (machines differ). Usage::

    QT_QPA_PLATFORM=offscreen python scripts/bench_map.py [--cps 1000] [--seconds 5] [--zoom Z]

Each figure is the median over the ticks, as wall time and as this thread's CPU time (the
CPU figure barely moves when other processes share the machine):

- apply: ``update_tiles`` with a full tick (every CP reports, most change state);
- paint after tick: synchronous repaint of the whole viewport right after a tick, so most
  tiles repaint with new text (worst case);
- repaint again: the same once more; a tile painted twice unchanged keeps itself as a pixmap
  here (a one-off cost per change);
- full repaint: the whole viewport again with nothing changed (what a pan, a hover over a
  crowded map or a merged dirty region costs; steady state);
- zoom step: x1.25 wheel-like zoom and repaint (background re-rendered, text refitted).
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

# Runnable from a checkout even before ``citymap`` is listed in setup.cfg's packages.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from PySide6.QtWidgets import QApplication  # noqa: E402

from citymap import CityMapView, CpStatus, TileData  # noqa: E402

STATES = [CpStatus.ACTIVE, CpStatus.SUPPLYING, CpStatus.STOPPED, CpStatus.BROKEN]


def _tiles(n: int, rng: random.Random) -> list[TileData]:
    return [
        TileData(
            f"CP-{i:04d}", rng.uniform(10, 990), rng.uniform(10, 690), CpStatus.ACTIVE, price=0.3
        )
        for i in range(n)
    ]


def _tick(tiles: list[TileData], rng: random.Random) -> list[TileData]:
    """One second of network life: every CP reports, most change something visible."""
    out = []
    for t in tiles:
        state = rng.choice(STATES)
        if state == CpStatus.SUPPLYING:
            kw = rng.uniform(3, 50)
            kwh = (t.kwh or 0) + kw / 3600
            out.append(
                TileData(
                    t.cp_id,
                    t.x,
                    t.y,
                    state,
                    price=0.3,
                    kw=kw,
                    kwh=kwh,
                    eur=kwh * 0.3,
                    driver_id="D-01",
                )
            )
        else:
            out.append(TileData(t.cp_id, t.x, t.y, state, price=0.3))
    return out


class _Clock:
    """Wall and thread-CPU milliseconds of one call, collected per label."""

    def __init__(self) -> None:
        self.wall: dict[str, list[float]] = {}
        self.cpu: dict[str, list[float]] = {}

    def __call__(self, label: str, fn: Callable[[], object]) -> object:
        w0, c0 = time.perf_counter(), time.thread_time()
        result = fn()
        self.wall.setdefault(label, []).append(1000 * (time.perf_counter() - w0))
        self.cpu.setdefault(label, []).append(1000 * (time.thread_time() - c0))
        return result

    def line(self, label: str, what: str) -> str:
        wall, cpu = statistics.median(self.wall[label]), statistics.median(self.cpu[label])
        return f"{label:17s} {wall:6.1f} ms wall, {cpu:6.1f} ms CPU  ({what})"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--cps", type=int, default=1000)
    parser.add_argument("--seconds", type=int, default=5, help="simulated 1 Hz ticks")
    parser.add_argument("--zoom", type=float, default=None, help="default: whole city")
    args = parser.parse_args(argv)

    app = QApplication.instance() or QApplication(sys.argv[:1])
    rng = random.Random(7)
    view = CityMapView()
    view.resize(1280, 860)
    view.show()
    tiles = _tiles(args.cps, rng)
    t0 = time.perf_counter()
    view.set_tiles(tiles)
    app.processEvents()
    print(f"add {args.cps} tiles: {1000 * (time.perf_counter() - t0):.1f} ms")
    if args.zoom:
        view.set_zoom(args.zoom)
    app.processEvents()
    viewport = view.viewport()
    viewport.repaint()

    clock = _Clock()
    changed = 0
    for _ in range(args.seconds):
        tiles = _tick(tiles, rng)
        changed += clock("apply", lambda batch=tiles: view.update_tiles(batch))  # type: ignore[operator]
        clock("paint after tick", viewport.repaint)
        clock("repaint again", viewport.repaint)
        clock("full repaint", viewport.repaint)
    zoom = view.zoom()
    for step in range(args.seconds):
        view.set_zoom(zoom * (1.25 if step % 2 == 0 else 1.0))
        clock("zoom step", viewport.repaint)
    view.set_zoom(zoom)

    n = args.seconds
    print(f"zoom {zoom:.2f}, {n} ticks of {args.cps} updates ({changed} repainted tiles), medians:")
    print(clock.line("apply", f"{args.cps} updates"))
    print(clock.line("paint after tick", "whole viewport, changed tiles refitted"))
    print(clock.line("repaint again", "same, unchanged tiles now kept as pixmaps"))
    print(clock.line("full repaint", "whole viewport, nothing changed"))
    print(clock.line("zoom step", "background and text redone"))
    busy = statistics.median(clock.wall["apply"]) + statistics.median(
        clock.wall["paint after tick"]
    )
    print(f"GUI thread busy {busy / 10:.1f} % of each second at 1 Hz")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
