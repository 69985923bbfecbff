"""OCPP 1.6J and 2.0.1 words in EVCharging's terms, in plain Python (no sockets): the table
of docs/ocpp.md as code, so the unit tests check it without a broker or a WebSocket.

- a connector status (StatusNotification) → the engine health the monitor reports to Central
  (``EngineHealth`` + a fault reason);
- a meter reading in Wh (StartTransaction ``meterStart``, MeterValues, StopTransaction
  ``meterStop``) → kWh and € at the CP's price, rounded as the simulated engines round
  (``cp_core.metering``);
- a StopTransaction ``reason`` (2.0.1: TransactionEvent ``stoppedReason``) → the
  ``supply_ended`` reason of PROTOCOL.md §3;
- a 2.0.1 TransactionEvent → one ``TxEvent``, what the station decides on.

Both versions' readings go through the same functions: 1.6 writes ``unit``, 2.0.1
``unitOfMeasure`` with a power-of-ten ``multiplier``; the ``ocpp`` library hands both over in
snake_case.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
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
OCCUPIED = "Occupied"  # 2.0.1 ConnectorStatus: a vehicle plugged in (1.6: Preparing…Finishing)

HEALTHY = frozenset(
    {
        AVAILABLE,
        PREPARING,
        CHARGING,
        SUSPENDED_EV,
        SUSPENDED_EVSE,
        FINISHING,
        RESERVED,
        OCCUPIED,
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


def _unit(sample: dict[str, Any], default: str) -> tuple[str, float]:
    """(unit, scale) of a sampledValue: 1.6's ``unit``, or 2.0.1's ``unit_of_measure`` with
    its ``multiplier`` (the value × 10^multiplier is in the unit)."""
    measure = sample.get("unit_of_measure")
    if isinstance(measure, dict):
        try:
            scale = 10.0 ** int(measure.get("multiplier", 0))
        except (TypeError, ValueError):
            scale = 1.0
        return str(measure.get("unit", default)), scale
    return str(sample.get("unit", default)), 1.0


def _value(sample: dict[str, Any]) -> float | None:
    try:
        return float(sample["value"])
    except (KeyError, TypeError, ValueError):
        return None


def _wh(sample: dict[str, Any]) -> float | None:
    """One sampledValue as Wh, when it is the energy register (the default measurand)."""
    if sample.get("measurand", ENERGY_REGISTER) != ENERGY_REGISTER:
        return None
    value = _value(sample)
    if value is None:
        return None
    unit, scale = _unit(sample, "Wh")
    value *= scale
    return value * 1000.0 if unit == "kWh" else value


def _kw(sample: dict[str, Any]) -> float | None:
    if sample.get("measurand") != POWER:
        return None
    value = _value(sample)
    if value is None:
        return None
    unit, scale = _unit(sample, "W")
    value *= scale
    return value if unit == "kW" else value / 1000.0


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
    # 2.0.1 ReasonEnumType adds these (the ones it shares with 1.6 mean the same)
    "StoppedByEV": EndReason.UNPLUGGED,
    "EnergyLimitReached": EndReason.UNPLUGGED,
    "SOCLimitReached": EndReason.UNPLUGGED,
    "TimeLimitReached": EndReason.UNPLUGGED,
    "Timeout": EndReason.UNPLUGGED,
    "LocalOutOfCredit": EndReason.STOPPED,
    "MasterPass": EndReason.STOPPED,
    "ImmediateReset": EndReason.ENGINE_RESTART,
    "GroundFault": EndReason.FAULT,
    "OvercurrentFault": EndReason.FAULT,
    "PowerQuality": EndReason.FAULT,
}


def end_reason(reason: str | None) -> EndReason:
    return END_REASONS.get(reason, EndReason.FAULT)


# --- OCPP 2.0.1 TransactionEvent -------------------------------------------------------------

STARTED, UPDATED, ENDED = "Started", "Updated", "Ended"


@dataclass(frozen=True)
class TxEvent:
    """One 2.0.1 TransactionEvent, as the station needs it. In 2.0.1 the charger names the
    transaction (``transactionId``, a string); the gateway keeps its own number beside it.

    ``id_tag``: the idToken, when the event carries one (the event that authorizes the
    transaction, or a later change of token); ``remote_start_id``: the gateway's
    RequestStartTransaction this transaction answers; ``wh``/``kw``: the last energy-register
    and power readings in the event's meter values; ``reason``: ``stoppedReason``;
    ``offline``: the station queued it while it could not reach the gateway (its ``offline``
    field), or the gateway judged so (``started_alone``)."""

    kind: str
    charger_tx: str
    timestamp: str | None = None
    id_tag: str | None = None
    remote_start_id: int | None = None
    wh: float | None = None
    kw: float | None = None
    reason: str | None = None
    offline: bool = False


def transaction_event(
    event_type: str,
    timestamp: str | None,
    transaction_info: dict[str, Any],
    id_token: dict[str, Any] | None = None,
    meter_value: list[dict[str, Any]] | None = None,
    offline: bool = False,
) -> TxEvent:
    """A TransactionEvent's fields (snake_case, as the ``ocpp`` library hands them over)."""
    remote = transaction_info.get("remote_start_id")
    readings = meter_value or []
    return TxEvent(
        kind=str(event_type),
        charger_tx=str(transaction_info["transaction_id"]),
        timestamp=timestamp,
        id_tag=str(id_token["id_token"]) if id_token and id_token.get("id_token") else None,
        remote_start_id=remote if isinstance(remote, int) else None,
        wh=register_wh(readings),
        kw=power_kw(readings),
        reason=transaction_info.get("stopped_reason"),
        offline=bool(offline),
    )


#: s a charger's clock may run behind the gateway's without its live messages looking queued
QUEUED_SLACK_S = 2.0


def started_alone(
    timestamp: str | None, connected_at: datetime | None, central_up: bool, flagged: bool = False
) -> bool:
    """Did the charger start this transaction on its own, authorizing the id itself (its local
    list or cache) without Central? So when the station says so (2.0.1 ``offline``), when
    Central is out of reach right now (the gateway cannot ask it), or when the start is dated
    before the connection it came on: a message queued while the charger was offline (OCPP
    1.6 has no flag for it). A live start without Central's authorization is none of these."""
    if flagged or not central_up:
        return True
    if not timestamp or connected_at is None:
        return False
    try:
        at = datetime.fromisoformat(timestamp.replace("Z", "+00:00"))
    except ValueError:
        return False
    if at.tzinfo is None:
        at = at.replace(tzinfo=UTC)
    return at < connected_at - timedelta(seconds=QUEUED_SLACK_S)
