"""Benchmark the city map with many CPs: how fast updates apply and how long a repaint takes.

Why: issue 4 asks the control center to stay smooth with 1,000 CPs updating every second.
This prints figures instead of asserting timings (machines differ). Usage::

    QT_QPA_PLATFORM=offscreen python scripts/bench_map.py [--cps 1000] [--seconds 5]
"""

from __future__ import annotations

import argparse
import random
import sys
import time
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

    apply_s = paint_s = 0.0
    changed = 0
    for _ in range(args.seconds):
        tiles = _tick(tiles, rng)
        t0 = time.perf_counter()
        changed += view.update_tiles(tiles)
        t1 = time.perf_counter()
        view.viewport().repaint()  # synchronous paint of what is dirty
        t2 = time.perf_counter()
        apply_s += t1 - t0
        paint_s += t2 - t1
    n = args.seconds
    print(f"zoom {view.zoom():.2f}, {n} ticks of {args.cps} updates ({changed} repainted tiles)")
    print(f"apply: {1000 * apply_s / n:.1f} ms/tick = {args.cps * n / apply_s:,.0f} updates/s")
    print(f"paint: {1000 * paint_s / n:.1f} ms/tick (whole viewport, all visible tiles)")
    busy = (apply_s + paint_s) / n
    print(f"GUI thread busy {100 * busy:.1f} % of each second at 1 Hz")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
