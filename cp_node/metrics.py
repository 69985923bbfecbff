"""The metrics and probes of EV_CP_E and EV_CP_M (``--metrics-port``; docs/operations.md).

Read at scrape time from what the services count (``checks``, ``heartbeat_rtt``, plain
numbers each written by one thread) and from their state, taken under the service's lock.
Each process is one CP: its id is the label of the ``_info`` series only (join on the target),
the rest of the series carry none.

Readiness: an engine is ready once it knows its CP (the monitor's first HEALTH) and reaches
Kafka; a monitor once Central authenticated it and it checked its engine once (an engine KO
or unreachable is the CP's fault, reported to Central, not the monitor's: the body says it).
"""

from __future__ import annotations

import argparse
from collections.abc import Iterator
from typing import TYPE_CHECKING

from prometheus_client.core import GaugeMetricFamily, Metric

from wire.health_messages import CentralLink, EngineState
from wire.metrics import (
    MetricsServer,
    Readiness,
    counter,
    gauge,
    histogram,
    one_of,
    readiness,
    serve_metrics,
)
from wire.tcp_messages import EngineHealth

if TYPE_CHECKING:  # each program imports only its own service (EV_CP_M needs no Kafka)
    from cp_node.engine_service import EngineService
    from cp_node.monitor_service import MonitorService

ENGINE_STATES = tuple(s.value for s in EngineState)
HEALTHS = tuple(h.value for h in EngineHealth)


def _info(name: str, documentation: str, cp_id: str | None) -> GaugeMetricFamily:
    family = GaugeMetricFamily(name, documentation, labels=["cp_id"])
    family.add_metric([cp_id or ""], 1.0)
    return family


# --- EV_CP_E ----------------------------------------------------------------------------------


def engine_metrics(service: EngineService) -> Iterator[Metric]:
    view = service.view()
    snap = view.machine
    yield _info(
        "evc_engine_info", "The CP this engine serves (empty until its monitor says)", snap.cp_id
    )
    yield counter(
        "evc_engine_health_checks_total",
        "The monitor's HEALTH checks answered, by answer (OK, or KO: a fault)",
        service.checks.snapshot(),
        "result",
    )
    yield gauge(
        "evc_engine_state",
        "1 for the engine's state (ISOLATED: no monitor heard for 3 s)",
        one_of(snap.state.value, ENGINE_STATES),
        "state",
    )
    yield gauge("evc_engine_fault", "1 while the engine reports a fault (KO)", float(snap.fault))
    yield gauge(
        "evc_engine_monitor_link_up",
        "1 while the monitor's HEALTH checks arrive (the engine is not ISOLATED)",
        float(view.last_health_age is not None and snap.state is not EngineState.ISOLATED),
    )
    if view.last_health_age is not None:
        yield gauge(
            "evc_engine_last_health_check_age_seconds",
            "Seconds since the monitor's last HEALTH check",
            view.last_health_age,
        )
    yield gauge(
        "evc_engine_central_link_up",
        "1 while the monitor says its link to Central is up",
        float(snap.central_link is CentralLink.UP),
    )
    yield gauge("evc_engine_kafka_up", "1 while Kafka is reachable", float(view.kafka_up))
    yield gauge(
        "evc_engine_kafka_producer_queue_events",
        "Events this engine has not delivered to Kafka yet",
        view.kafka_pending,
    )
    yield gauge(
        "evc_engine_supply_energy_kwh",
        "kWh delivered so far in the running supply (0 without one)",
        snap.kwh if snap.session_id else 0.0,
    )


def engine_readiness(service: EngineService) -> Readiness:
    view = service.view()
    problems = []
    if view.machine.cp_id is None:
        problems.append("no HEALTH from a monitor yet")
    if not view.kafka_up:
        problems.append("Kafka not reachable")
    return readiness(problems, f"ready: engine of {view.machine.cp_id}")


def serve_engine(args: argparse.Namespace, service: EngineService) -> MetricsServer | None:
    return serve_metrics(
        args, "EV_CP_E", lambda: engine_metrics(service), lambda: engine_readiness(service)
    )


# --- EV_CP_M ----------------------------------------------------------------------------------


def monitor_metrics(service: MonitorService) -> Iterator[Metric]:
    with service._lock:  # the state's fields are read together, as the loops write them
        state = service.state
        engine, link, checked = state.engine.value, state.central_link, state.engine_known
    yield _info("evc_monitor_info", "The CP this monitor watches", service.cp_id)
    yield counter(
        "evc_monitor_health_checks_total",
        "HEALTH checks of the engine, by outcome (OK, KO, UNREACHABLE: no answer)",
        service.checks.snapshot(),
        "result",
    )
    if checked:
        yield gauge(
            "evc_monitor_engine_health",
            "1 for the engine's health as last checked",
            one_of(engine, HEALTHS),
            "health",
        )
    yield gauge(
        "evc_monitor_central_link_up",
        "1 while this monitor is authenticated at Central",
        float(link is CentralLink.UP),
    )
    yield counter(
        "evc_monitor_central_sessions_total",
        "Sessions with Central that were authenticated (each reconnection adds one)",
        service.central_sessions,
    )
    yield histogram(
        "evc_monitor_heartbeat_rtt_seconds",
        "From a HEARTBEAT sent to Central's ALIVE received",
        service.heartbeat_rtt,
    )


def monitor_readiness(service: MonitorService) -> Readiness:
    with service._lock:
        link, engine, checked = (
            service.state.central_link,
            service.state.engine,
            service.state.engine_known,
        )
    problems = []
    if link is not CentralLink.UP:
        problems.append("not authenticated at Central")
    if not checked:
        problems.append("engine not checked yet")
    return readiness(problems, f"ready: monitor of {service.cp_id} (engine {engine.value})")


def serve_monitor(args: argparse.Namespace, service: MonitorService) -> MetricsServer | None:
    return serve_metrics(
        args, "EV_CP_M", lambda: monitor_metrics(service), lambda: monitor_readiness(service)
    )
