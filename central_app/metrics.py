"""Central's metrics and readiness (``EV_Central --metrics-port``; docs/operations.md).

Read when Prometheus scrapes, never pushed: the owner's plain counters (``hub.counts``, the
writer's ``job_seconds``, the Kafka link's ``lag``) are read as they are, and what needs a
walk over the hub (CPs per state, sessions, monitors) is one ``runtime.owner.call`` onto the owner
per scrape, as the console's status line does. Names follow Prometheus' conventions: units
in the names (seconds; kWh and EUR spelled out), ``_total`` counters, no driver id in any
label. A standby (or a Central still starting) exports its role and nothing else.
"""

from __future__ import annotations

import argparse
import logging
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from operator import attrgetter

from prometheus_client.core import GaugeMetricFamily, Metric

from central_app.cp_state import SessionPhase
from central_app.hub import Hub
from central_app.runtime import CentralRuntime
from wire.metrics import MetricsServer, Readiness, counter, gauge, histogram, one_of, serve_metrics
from wire.states import CpStatus

log = logging.getLogger(__name__)

OWNER_TIMEOUT = 2.0  # s a scrape waits for the owner's figures before leaving them out
ROLES = ("active", "standby")
STATES = tuple(s.value for s in CpStatus)
PHASES = tuple(p.value for p in SessionPhase)


@dataclass(frozen=True, slots=True)
class OwnerFigures:
    """What only the owner may read, taken in one call there."""

    states: dict[str, int]
    sessions: dict[str, int]
    monitors: int
    cps: int


def owner_figures(hub: Hub) -> OwnerFigures:
    """On the owner, once per scrape: ~4-8 ms of CPU at 10,000 CPs (each CP's ``status`` is
    derived from its facts; ``scripts/bench_heartbeat_metrics.py``), so a heartbeat waits that
    long at most once per scrape interval."""
    states = Counter(map(attrgetter("status"), hub.cps.values()))
    sessions = Counter(cp.session.phase.value for cp in hub.sessions() if cp.session)
    return OwnerFigures(
        states={status.value: n for status, n in states.items()},
        sessions=dict(sessions),
        monitors=len(hub.connections),
        cps=len(hub.cps),
    )


def role_of(runtime: CentralRuntime) -> str:
    return (
        "standby" if runtime.pair.deposed.is_set() or runtime.pair.role == "standby" else "active"
    )


def serving(runtime: CentralRuntime) -> bool:
    """Started, active and not stopping: the hub and its threads are there to be read."""
    return (
        runtime.hub is not None
        and runtime.kafka is not None
        and runtime.writer is not None
        and role_of(runtime) == "active"
        and not runtime.stopping
    )


def readiness(current: Callable[[], CentralRuntime | None]) -> Readiness:
    """Ready: the active Central serves, holds its lease (in a pair), and reaches its
    database and Kafka. A standby says ``standby`` (503), so a probe or a load balancer
    leaves it out until it takes over."""
    runtime = current()
    if runtime is None:
        return Readiness(False, "starting")
    central_id = runtime.config.central_id
    if role_of(runtime) == "standby":
        return Readiness(False, f"standby: {central_id} waits for the pair's lock")
    if not serving(runtime):
        return Readiness(False, f"starting: {central_id} is not serving yet")
    problems = []
    leadership = runtime.pair.leadership
    if leadership is not None and not leadership.holds(time.monotonic()):
        problems.append("the pair's lease is not renewed")
    if not runtime.writer.healthy:  # type: ignore[union-attr]
        problems.append("database unreachable")
    if not runtime.kafka.up:  # type: ignore[union-attr]
        problems.append("Kafka not reachable")
    if problems:
        return Readiness(False, f"not ready: {'; '.join(problems)}")
    return Readiness(True, f"ready: {central_id} is the active Central")


def collect(current: Callable[[], CentralRuntime | None]) -> Iterator[Metric]:
    runtime = current()
    if runtime is None:
        return
    role = role_of(runtime)
    info = GaugeMetricFamily(
        "evc_central_info",
        "This Central's id (1; the id names it in a pair)",
        labels=["central_id"],
    )
    info.add_metric([runtime.config.central_id], 1.0)
    yield info
    yield gauge(
        "evc_central_role",
        "1 for this Central's role in its pair (a lone Central is active)",
        one_of(role, ROLES),
        "role",
    )
    leadership = runtime.pair.leadership
    if leadership is not None and role == "active" and leadership.renewed_at:
        yield gauge(
            "evc_central_lease_age_seconds",
            "Seconds since the pair's lock session was last proven alive (steps down at 2)",
            time.monotonic() - leadership.renewed_at,
        )
    if not serving(runtime):
        return
    hub, kafka, writer = runtime.hub, runtime.kafka, runtime.writer
    assert hub is not None and kafka is not None and writer is not None
    yield from _owner_metrics(runtime, hub)
    yield from _counted(hub)
    yield gauge("evc_central_kafka_up", "1 while Kafka is reachable", float(kafka.up))
    if kafka.lag is not None:
        yield gauge(
            "evc_central_kafka_consumer_lag_events",
            "Events on evc.requests and evc.cp.events not fetched by Central yet",
            kafka.lag,
        )
    yield gauge(
        "evc_central_kafka_producer_queue_events",
        "Events Central has not delivered to Kafka yet (queued, in flight, or held until "
        "the topics are verified)",
        kafka.queued,
    )
    yield gauge("evc_central_db_up", "1 while the database answers", float(writer.healthy))
    yield gauge(
        "evc_central_db_writer_queue_jobs",
        "Database jobs submitted to the writer thread and not finished",
        writer.backlog,
    )
    yield histogram(
        "evc_central_db_job_seconds",
        "Time of one database job on the writer thread (a transaction, commit included)",
        writer.job_seconds,
    )


def _owner_metrics(runtime: CentralRuntime, hub: Hub) -> Iterator[Metric]:
    try:
        figures = runtime.owner.call(owner_figures, hub, timeout=OWNER_TIMEOUT)
    except Exception as exc:  # a busy or stopping owner: this scrape goes without them
        log.info("metrics: the owner's figures were not available: %s", exc)
        return
    yield gauge(
        "evc_central_cps",
        "Charging points per state",
        {state: figures.states.get(state, 0) for state in STATES},
        "state",
    )
    yield gauge(
        "evc_central_monitors_connected", "Monitors with an authenticated session", figures.monitors
    )
    yield gauge(
        "evc_central_sessions",
        "Sessions per phase (authorized: waiting for the plug; supplying)",
        {phase: figures.sessions.get(phase, 0) for phase in PHASES},
        "phase",
    )


def _counted(hub: Hub) -> Iterator[Metric]:
    counts = hub.counts
    beats = counts.heartbeats
    yield counter("evc_central_heartbeats_total", "Monitor heartbeats answered", beats.count)
    yield histogram(
        "evc_central_heartbeat_handling_seconds",
        "Central's own work on one heartbeat (from request parsed to answer ready)",
        beats,
    )
    yield counter(
        "evc_central_charge_requests_total",
        "Charge requests answered, by result (authorized, or the denial's reason code)",
        counts.requests.snapshot(),
        "result",
    )
    yield histogram(
        "evc_central_authorization_seconds",
        "From a charge request reaching Central's core to its authorize leaving (the "
        "session row's write included)",
        counts.authorize,
    )
    yield counter(
        "evc_central_tickets_total",
        "Tickets issued (one per session), by how the supply ended",
        counts.tickets.snapshot(),
        "reason",
    )
    yield counter("evc_central_billed_energy_kwh_total", "kWh billed on tickets", counts.billed_kwh)
    yield counter("evc_central_billed_eur_total", "EUR billed on tickets", counts.billed_eur)
    yield counter(
        "evc_central_credited_energy_kwh_total",
        "kWh taken back when an engine's late reading lowered a provisional ticket",
        counts.credited_kwh,
    )
    yield counter(
        "evc_central_credited_eur_total",
        "EUR taken back when an engine's late reading lowered a provisional ticket",
        counts.credited_eur,
    )
    yield counter(
        "evc_central_tickets_amended_total",
        "Provisional tickets amended by the engine's final reading",
        counts.amended,
    )
    yield counter(
        "evc_central_refused_values_total",
        "Kafka values refused and dead-lettered, by reason (forged, unsealed, invalid, "
        "handler failed)",
        counts.refused.snapshot(),
        "reason",
    )


def serve(args: argparse.Namespace, current: list[CentralRuntime]) -> MetricsServer | None:
    """``--metrics-port``: serve the metrics and probes of whichever runtime ``current``
    holds (``main`` starts a new one when a deposed active becomes the standby)."""

    def now() -> CentralRuntime | None:
        return current[0] if current else None

    return serve_metrics(args, "EV_Central", lambda: collect(now), lambda: readiness(now))
