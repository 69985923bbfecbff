"""``evc-fleet chart`` paints a PNG of the results it is given, and says when it cannot."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest


def _results(label: str, p99s: list[float]) -> dict[str, Any]:
    return {
        "label": label,
        "scenarios": [
            {
                "cps": cps,
                "steady": {"heartbeats": {"latency": {"p99_ms": p99}}, "central_cpu_mean": 40.0},
            }
            for cps, p99 in zip([100, 1000, 10000], p99s, strict=True)
        ],
    }


def test_the_chart_is_a_png_of_the_chart_size(tmp_path: Path) -> None:
    pytest.importorskip("PySide6")
    from PySide6.QtGui import QImage

    from fleet.chart import HEIGHT, WIDTH, draw_chart

    out = tmp_path / "charts" / "fleet.png"  # the folder does not exist yet
    draw_chart([_results("before", [3.0, 9.0, 80.0]), _results("after", [2.0, 4.0, 20.0])], out)
    image = QImage(str(out))
    assert (image.width(), image.height()) == (WIDTH, HEIGHT)


def test_an_unwritable_chart_is_an_error_not_a_silent_miss(tmp_path: Path) -> None:
    pytest.importorskip("PySide6")
    from fleet.chart import draw_chart

    out = tmp_path / "fleet.txt-not-an-image-format.xyz"
    with pytest.raises(OSError, match="cannot write"):
        draw_chart([_results("run", [3.0, 9.0, 80.0])], out)
