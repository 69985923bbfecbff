"""The soak's arithmetic (fleet/soak.py), no processes: per-window latencies from cumulative
histograms, the warm-up a short run gets, the growth between the medians after the warm-up,
the verdict against the 5 % bound, and the chart drawn from samples."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from fleet import soak
from fleet.stats import Histogram


def _samples(rss: list[float], files: list[int], every: float = 60.0) -> list[dict[str, Any]]:
    return [
        {
            "t": every * (i + 1),
            "rss_mb": r,
            "open_files": f,
            "sockets": f - 10,
            "pipes": 6,
            "files": 3,
            "other": 1,
            "hb_p99_ms": 10.0,
            "req_p50_ms": 20.0,
            "req_p99_ms": None if i == 0 else 80.0,
            "tickets": 5,
            "tickets_total": 5 * (i + 1),
            "authenticated": 100,
            "hb_count": 6000,
            "requests": 5,
        }
        for i, (r, f) in enumerate(zip(rss, files, strict=True))
    ]


def test_warmup_is_at_most_a_third_of_the_run() -> None:
    assert soak.warmup_used(600, 7200) == 600
    assert soak.warmup_used(600, 180) == 60
    assert soak.warmup_used(10, 40) == 10


def test_window_keeps_only_the_samples_since_the_previous_state() -> None:
    cumulative = Histogram()
    for _ in range(100):
        cumulative.add(0.001)  # 1 ms before the window
    before = Histogram()
    before.merge(cumulative)
    for _ in range(100):
        cumulative.add(0.5)  # 500 ms in the window
    w = soak.window(cumulative, before)
    assert w.count == 100
    assert w.percentile(50) == pytest.approx(0.5, rel=0.03)
    assert soak.window(before, before).count == 0
    assert soak.window(before, before).percentile(99) is None


def test_growth_compares_medians_after_the_warmup_so_one_spike_decides_nothing() -> None:
    # warm-up samples (t < 180) grow a lot; afterwards flat but for one spike at the end
    rss = [50, 70, 90, 100, 101, 99, 100, 100, 100, 180, 100]
    samples = _samples(rss, [200] * len(rss))
    g = soak.growth(samples, "rss_mb", warmup=180)
    assert g is not None
    assert (g.first, g.last) == (100, 100)
    assert g.pct == 0.0


def test_growth_needs_two_samples_after_the_warmup_and_skips_missing_values() -> None:
    samples = _samples([100, 100, 100], [10, 10, 10])
    assert soak.growth(samples, "rss_mb", warmup=180) is None  # one sample at t=180
    g = soak.growth(samples, "req_p99_ms", warmup=0)  # the first sample has none
    assert g is not None and g.pct == 0.0


def test_verdict_passes_under_the_bound_and_fails_at_it() -> None:
    flat = _samples([100, 100, 101, 102, 103, 104], [200, 200, 201, 201, 202, 203])
    v = soak.verdict(flat, warmup=60)
    assert v["passed"], v
    assert v["growth"]["rss_mb"]["pct"] < 5.0
    assert v["growth"]["hb_p99_ms"]["pct"] == 0.0  # reported, not judged

    leaking = _samples([100, 100, 100, 105, 106, 107], [200] * 6)
    v = soak.verdict(leaking, warmup=60)
    assert not v["passed"]
    assert v["failed"] == ["rss_mb"]
    assert v["growth"]["rss_mb"]["pct"] == pytest.approx(6.0)

    fds = _samples([100] * 6, [200, 200, 200, 220, 230, 240])
    assert soak.verdict(fds, warmup=60)["failed"] == ["open_files"]


def test_verdict_fails_when_growth_cannot_be_told() -> None:
    v = soak.verdict(_samples([100, 100], [10, 10]), warmup=600)
    assert not v["passed"]
    assert v["failed"] == ["rss_mb", "open_files"]
    assert "FAIL" in soak.verdict_lines(v)[-1]


def test_open_files_counts_this_process_by_kind() -> None:
    r, w = os.pipe()
    try:
        counts = soak.open_files([os.getpid()])
    finally:
        os.close(r)
        os.close(w)
    assert counts["pipes"] >= 2
    assert counts["open_files"] == sum(counts[k] for k in ("sockets", "pipes", "files", "other"))
    assert soak.resources(os.getpid())["rss_mb"] > 0


def test_progress_line_and_chart(tmp_path: Path) -> None:
    samples = _samples([100, 100, 101, 101], [50, 50, 50, 50], every=15)
    assert soak.progress_line(100, samples[1]).startswith("[soak 100     30s] rss 100.0 MB")
    pytest.importorskip("PySide6")
    from fleet.soak_chart import draw_soak_chart

    out = tmp_path / "soak.png"
    document = {
        "cps": 100,
        "sample_every_s": 15,
        "samples": samples,
        "verdict": soak.verdict(samples, 20),
    }
    draw_soak_chart(document, out)
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
