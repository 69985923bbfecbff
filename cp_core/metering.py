"""Metering arithmetic: energy from power × time × speed, money from energy × price.

Energy accumulates unrounded; only what is shown or sent is rounded (kWh to 3 decimals,
EUR to 2), half-up like a till, so a long supply never drifts from its own total.
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

SECONDS_PER_HOUR = 3600.0


def energy_kwh(power_kw: float, seconds: float, speed: float = 1.0) -> float:
    """Energy delivered at ``power_kw`` during ``seconds`` of real time at ``speed``."""
    if seconds <= 0:
        return 0.0
    return power_kw * seconds * speed / SECONDS_PER_HOUR


def _round_half_up(value: float, places: str) -> float:
    return float(Decimal(repr(value)).quantize(Decimal(places), rounding=ROUND_HALF_UP))


def round_kwh(kwh: float) -> float:
    return _round_half_up(kwh, "0.001")


def round_eur(eur: float) -> float:
    return _round_half_up(eur, "0.01")


def amount_eur(kwh_exact: float, price: float) -> float:
    """The amount for the unrounded energy, rounded to cents."""
    return round_eur(kwh_exact * price)
