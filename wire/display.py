"""How numbers read on screen, the same in every program's views (no Qt, no I/O).

* :func:`count` — a number with its noun, singular for one: ``1 session``, ``3 sessions``.
* :func:`axis_ticks` — the ticks of a chart's value axis from 0 to a peak: round steps, as
  many decimals as the step needs (always two for money, none for things counted), so two
  labels never read the same (``0, 0, 0, 0, 0`` for 0.18 € on a ``%.0f`` axis did).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

__all__ = ["COUNT", "MONEY", "Ticks", "axis_ticks", "count"]

COUNT = "count"  # whole things: supplies, charging points (integer ticks, no decimals)
MONEY = "money"  # euros: two decimals, steps of a cent at least
_STEPS = (1.0, 2.0, 5.0)  # the round steps, times a power of ten


def count(n: int, noun: str, plural: str | None = None) -> str:
    """``n`` and its noun: ``count(1, "session")`` is ``1 session``; thousands separated."""
    return f"{n:,} {noun if n == 1 else (plural or noun + 's')}"


@dataclass(frozen=True, slots=True)
class Ticks:
    """A value axis from 0 to ``top`` with a tick every ``step`` (``top`` is a multiple)."""

    top: float
    step: float
    decimals: int

    @property
    def intervals(self) -> int:
        return round(self.top / self.step)

    @property
    def label_format(self) -> str:
        """The printf format Qt Charts' ``QValueAxis.setLabelFormat`` takes."""
        return f"%.{self.decimals}f"

    def labels(self) -> list[str]:
        return [f"{i * self.step:.{self.decimals}f}" for i in range(self.intervals + 1)]


def _round_step(raw: float) -> float:
    """The smallest of 1, 2, 5 × 10^k that is at least ``raw``."""
    power = 10.0 ** math.floor(math.log10(raw))
    for base in _STEPS:
        if base * power >= raw * (1 - 1e-9):
            return base * power
    return 10.0 * power


def axis_ticks(peak: float, kind: str = "", *, target: int = 5) -> Ticks:
    """Ticks from 0 to at least ``peak`` in about ``target`` round steps.

    ``kind``: :data:`COUNT` (the step is a whole number, labels have no decimals),
    :data:`MONEY` (a step of at least 0.01, labels with two decimals) or "" (as many
    decimals as the step needs: 0.05 kWh reads 0.05, 50 kWh reads 50).
    """
    unit = {COUNT: 1.0, MONEY: 0.01}.get(kind, 0.0)
    peak = peak if peak > 0 and math.isfinite(peak) else (unit or 1.0)
    step = max(_round_step(peak / max(1, target)), unit)
    intervals = max(1, math.ceil(peak / step - 1e-9))
    if kind == MONEY:
        decimals = 2
    elif kind == COUNT:
        decimals = 0
    else:
        decimals = max(0, -math.floor(math.log10(step) + 1e-9))
    return Ticks(top=round(intervals * step, 10), step=step, decimals=decimals)
