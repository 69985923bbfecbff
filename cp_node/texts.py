"""Human wording of the engine's state, shared by the panel and the console (no Qt)."""

from __future__ import annotations

from cp_node.engine_service import EngineView
from wire.health_messages import CentralLink, EngineState

STATE_LABELS = {
    EngineState.IDLE: "Available",
    EngineState.AUTHORIZED: "Authorized: plug in",
    EngineState.SUPPLYING: "Supplying",
    EngineState.STOPPED: "Out of order",
    EngineState.ISOLATED: "Monitor lost",
}


def state_label(view: EngineView) -> str:
    m = view.machine
    if m.cp_id is None:
        return "Waiting for monitor"
    if m.fault:
        return "Broken (KO)"
    return STATE_LABELS[m.state]


def state_tone(view: EngineView) -> str:
    """green / orange / red / grey / blue, as the operator's panel colours the CP."""
    m = view.machine
    if m.cp_id is None or m.state == EngineState.ISOLATED:
        return "grey"
    if m.fault:
        return "red"
    if m.state == EngineState.STOPPED:
        return "orange"
    if m.state == EngineState.AUTHORIZED:
        return "blue"
    return "green"


def link_label(view: EngineView) -> str:
    m = view.machine
    if m.state == EngineState.ISOLATED or m.central_link is None:
        return "Unknown (no monitor)"
    if m.central_link == CentralLink.UP:
        return "Connected" + (" · Stopped by operator" if m.admin_stopped else "")
    return "Cannot reach CENTRAL"


def health_label(view: EngineView) -> str:
    m = view.machine
    if m.fault:
        return "KO (fault)"
    if view.last_health_age is None:
        return "OK · no monitor yet"
    if m.state == EngineState.ISOLATED:
        return f"OK · no HEALTH for {view.last_health_age:.0f} s"
    return "OK · monitor checking"


def kafka_label(view: EngineView) -> str:
    if view.key_waiting:
        return "Waiting for the key from the monitor (no supply until it arrives)"
    if view.kafka_up:
        return "Connected" + (f" · {view.kafka_pending} queued" if view.kafka_pending > 5 else "")
    return f"Unreachable · {view.kafka_pending} events queued"


def status_line(view: EngineView) -> str:
    m = view.machine
    parts = [
        f"[{m.cp_id or '?'}] {state_label(view)}",
        f"Central: {link_label(view)}",
        f"Engine: {'KO' if m.fault else 'OK'}",
        f"Kafka: {kafka_label(view)}",
    ]
    if m.driver_id:
        parts.append(f"driver {m.driver_id}")
    if m.kwh or m.state == EngineState.SUPPLYING:
        parts.append(f"{m.kw:.1f} kW  {m.kwh:.3f} kWh  {m.eur:.2f} EUR")
    return " | ".join(parts)
