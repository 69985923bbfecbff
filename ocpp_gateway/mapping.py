"""OCPP 1.6J words in EVCharging's terms, in plain Python (no sockets): the table of
docs/ocpp.md as code, so the unit tests check it without a broker or a WebSocket.

- a connector status (StatusNotification) → the engine health the monitor reports to Central
  (``EngineHealth`` + a fault reason);
- a meter reading in Wh (StartTransaction ``meterStart``, MeterValues, StopTransaction
  ``meterStop``) → kWh and € at the CP's price, rounded as the simulated engines round
  (``cp_core.metering``);
- a StopTransaction ``reason`` → the ``supply_ended`` reason of PROTOCOL.md §3.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from cp_core.metering import amount_eur, round_kwh
from wire.reasons import EndReason
from wire.tcp_messages import EngineHealth

# StatusNotification.status (OCPP 1.6 §7.7 ChargePointStatus)
AVAILABLE = "Available"
PREPARING = "Preparing"
CHARGING = "Charging"
SUSPENDED_EV = "SuspendedEV"
SUSPENDED_EVSE = "SuspendedEVSE"
FINISHING = "Finishing"
RESERVED = "Reserved"
UNAVAILABLE = "Unavailable"
FAULTED = "Faulted"

HEALTHY = frozenset(
    {
        AVAILABLE,
        PREPARING,
        CHARGING,
        SUSPENDED_EV,
        SUSPENDED_EVSE,
        FINISHING,
        RESERVED,
    }
)

ENERGY_REGISTER = "Energy.Active.Import.Register"
POWER = "Power.Active.Import"


@dataclass(frozen=True)
class Health:
    """What the monitor tells Central about this charge point's "engine"."""

    health: EngineHealth
    reason: str = ""


def health_of(
    status: str, error_code: str = "NoError", info: str | None = None, *, stopped: bool = False
) -> Health:
    """A connector status → OK, or KO with a reason Central shows (Faulted → BROKEN).

    Central's five states come from this plus what it already knows: OK + idle → ACTIVE,
    OK + a supply → SUPPLYING, OK + its own Stop → STOPPED, KO → BROKEN, and no heartbeat
    (WebSocket gone or silent) → DISCONNECTED.
    """
    if status in HEALTHY or (status == UNAVAILABLE and stopped):
        # Unavailable is healthy when Central's Stop asked for it (ChangeAvailability
        # Inoperative): the CP is STOPPED, not broken. Unasked, nobody can charge there.
        return Health(EngineHealth.OK)
    if status == FAULTED:
        detail = info or error_code
        return Health(EngineHealth.KO, f"OCPP Faulted: {detail}" if detail else "OCPP Faulted")
    return Health(EngineHealth.KO, f"OCPP status {status}")


def kwh_between(meter_start_wh: float, meter_wh: float) -> float:
    """Energy delivered between two register readings in Wh, as kWh (3 decimals).

    A reading below the start (a meter replaced or reset mid-transaction) counts as nothing
    rather than a negative supply."""
    return round_kwh(max(0.0, meter_wh - meter_start_wh) / 1000.0)


def eur_between(meter_start_wh: float, meter_wh: float, price: float) -> float:
    """The amount for the same energy at ``price`` EUR/kWh (cents, half-up, unrounded kWh)."""
    return amount_eur(max(0.0, meter_wh - meter_start_wh) / 1000.0, price)


def _wh(sample: dict[str, Any]) -> float | None:
    """One sampledValue as Wh, when it is the energy register (the default measurand)."""
    if sample.get("measurand", ENERGY_REGISTER) != ENERGY_REGISTER:
        return None
    try:
        value = float(sample["value"])
    except (KeyError, TypeError, ValueError):
        return None
    unit = sample.get("unit", "Wh")
    return value * 1000.0 if unit == "kWh" else value


def _kw(sample: dict[str, Any]) -> float | None:
    if sample.get("measurand") != POWER:
        return None
    try:
        value = float(sample["value"])
    except (KeyError, TypeError, ValueError):
        return None
    return value if sample.get("unit") == "kW" else value / 1000.0


def _last(
    meter_values: Iterable[dict[str, Any]], read: Callable[[dict[str, Any]], float | None]
) -> float | None:
    found = None
    for meter_value in meter_values:
        for sample in meter_value.get("sampled_value", []):
            value = read(sample)
            if value is not None:
                found = value
    return found


def register_wh(meter_values: Iterable[dict[str, Any]]) -> float | None:
    """The last energy-register reading (Wh) in a MeterValues ``meterValue`` list (snake_case
    keys, as the ``ocpp`` library hands them over); None when there is none."""
    return _last(meter_values, _wh)


def power_kw(meter_values: Iterable[dict[str, Any]]) -> float | None:
    """The last Power.Active.Import reading (kW), when the charger reports one."""
    return _last(meter_values, _kw)


# StopTransaction.reason (OCPP 1.6 §7.35) → supply_ended.reason (PROTOCOL.md §3).
END_REASONS: dict[str | None, EndReason] = {
    None: EndReason.UNPLUGGED,  # absent means Local
    "Local": EndReason.UNPLUGGED,
    "EVDisconnected": EndReason.UNPLUGGED,
    "Remote": EndReason.STOPPED,
    "DeAuthorized": EndReason.STOPPED,
    "UnlockCommand": EndReason.STOPPED,
    "EmergencyStop": EndReason.FAULT,
    "Other": EndReason.FAULT,
    "PowerLoss": EndReason.ENGINE_RESTART,
    "Reboot": EndReason.ENGINE_RESTART,
    "HardReset": EndReason.ENGINE_RESTART,
    "SoftReset": EndReason.ENGINE_RESTART,
}


def end_reason(reason: str | None) -> EndReason:
    return END_REASONS.get(reason, EndReason.FAULT)
