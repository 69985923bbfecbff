"""From what the processes collected to the figures of one scenario (a JSON-ready dict)."""

from __future__ import annotations

import bisect
from typing import Any, Protocol

from fleet.kafka_sim import KafkaPhaseStats
from fleet.monitors import PhaseStats
from fleet.options import ScenarioOptions

FALSE_DISC_MARGIN_S = 1.0


class Run(Protocol):
    """What the figures need of the scenario that ran (``fleet.scenario.Scenario``, which
    imports this module: so this one does not import it)."""

    o: ScenarioOptions
    n_workers: int
    monitor_nice: int
    generator_runtime: dict[str, Any]
    authenticated_at: dict[str, int]

    def window(self, start: str, end: str) -> tuple[float, float]: ...

    def usage(self, start: str, end: str) -> dict[str, float | None]: ...


def merge_phase(collected: list[dict[str, Any]], phase: str) -> PhaseStats:
    stats = PhaseStats()
    for c in collected:
        if phase in c["stats"]:
            stats.merge(c["stats"][phase])
    return stats


def merge_kafka(kafka: dict[str, Any] | None, phase: str) -> KafkaPhaseStats:
    stats = KafkaPhaseStats()
    if kafka and phase in kafka["stats"]:
        stats.merge(kafka["stats"][phase])
    return stats


def _false_disconnected(
    events: list[tuple[str, float]], intervals: dict[str, list[tuple[float, float]]]
) -> list[tuple[str, float]]:
    """DISCONNECTED events for CPs whose monitor was connected and heartbeating."""
    false = []
    for cp_id, t in events:
        for start, end in intervals.get(cp_id, []):
            if start <= t - FALSE_DISC_MARGIN_S and end >= t:
                false.append((cp_id, t))
                break
    return false


def _in(events: list[tuple[str, float]], window: tuple[float, float]) -> int:
    return sum(1 for _, t in events if window[0] <= t <= window[1])


def _silenced(silenced: dict[str, float], events: list[tuple[str, float]]) -> list[float]:
    delays = []
    for cp_id, quiet_since in silenced.items():
        later = sorted(t for c, t in events if c == cp_id and t > quiet_since)
        if later:
            delays.append(round(later[0] - quiet_since, 3))
    return delays


def _monotonic(samples_by_worker: list[list[tuple[int, int]]]) -> tuple[bool, int]:
    """Whether the summed authenticated gauge never fell; and the largest fall."""
    grids = sorted({g for samples in samples_by_worker for g, _ in samples})
    series = []
    for grid in grids:
        total = 0
        for samples in samples_by_worker:
            keys = [g for g, _ in samples]
            i = bisect.bisect_right(keys, grid) - 1
            total += samples[i][1] if i >= 0 else 0
        series.append(total)
    worst = max((a - b for a, b in zip(series, series[1:], strict=False)), default=0)
    return worst <= 0, max(worst, 0)


def _heartbeats(stats: Any) -> dict[str, Any]:
    return {
        "due": stats.hb_due,
        "answered": stats.hb_ok,
        "late": stats.hb_late,
        "lost": stats.hb_lost,
        "overdue": stats.hb_overdue,
        "answered_pct": None if stats.answered_pct is None else round(stats.answered_pct, 3),
        "latency": stats.latency.to_dict(),
        "generator_tick_lag": stats.tick_lag.to_dict(),
    }


def _sessions(stats: Any) -> dict[str, Any]:
    return {
        "connects": stats.connects,
        "connect_failures": stats.connect_failures,
        "refused": stats.refused,
        "drops": stats.drops,
        "response_timeouts": stats.timeouts,
        "auth_ok": stats.auth_ok,
        "auth_rejected": stats.auth_rejected,
        "errors": stats.errors,
        "tls_full_handshakes": stats.tls_full,
        "tls_resumed_handshakes": stats.tls_resumed,
    }


def _kafka(stats: Any) -> dict[str, Any]:
    return {
        "requests": stats.requests,
        "authorized": stats.authorized,
        "denied": stats.denied,
        "unanswered": stats.unanswered,
        "tickets": stats.tickets,
        "interrupted": stats.interrupted,
        "request_to_authorized": stats.auth_latency.to_dict(),
        "progress_sent": stats.progress_sent,
        "progress_relayed": stats.progress_relayed,
        "progress_latency": stats.progress_latency.to_dict(),
        "unsealable": stats.unsealable,
        "unopened": stats.unopened,
    }


def summarize(
    sc: Run,
    registration: dict[str, Any],
    storm: dict[str, Any] | None,
    monitors: list[dict[str, Any]],
    kafka: dict[str, Any] | None,
) -> dict[str, Any]:
    o = sc.o
    intervals: dict[str, list[tuple[float, float]]] = {}
    silenced: dict[str, float] = {}
    for c in monitors:
        intervals.update(c["intervals"])
        silenced.update(c["silenced"])
    events = list(kafka["disconnected"]) if kafka else []
    false = _false_disconnected(events, intervals)

    reg_stats = merge_phase(monitors, "register")
    # Registrations after the registration phase (the limit was reached) do not count.
    registered_at = sorted(
        t for c in monitors for t in c["registered_at"] if t <= registration["ended"]
    )
    locked = reg_stats.locked_out  # within the registration phase, as ``registered``
    reg_time = (registered_at[-1] - registration["began"]) if registered_at else None
    result: dict[str, Any] = {
        "label": o.label,
        "cps": o.cps,
        "workers": sc.n_workers,
        "generator": o.generator,  # the monitor side: "go" (fleet/gomon) or "python"
        "generator_runtime": sc.generator_runtime,  # Go: {"go": version, "gomaxprocs": n}
        "monitor_nice": sc.monitor_nice,
        "pinning": o.pin.describe() if o.pin else None,  # cores (taskset), None: not pinned
        "central_cmd": " ".join(o.central_cmd),
        "pythonpath": o.pythonpath,
        # the layers that ran: TLS monitor link, sealed values, SASL_SSL broker (else PLAINTEXT)
        "security": {"tls": o.tls, "sealed": o.sealed, "sasl": sc.kafka_access.sasl},
        "claim_supported": all(c["claim_supported"] for c in monitors),
        "registration": {
            "registered": len(registered_at),
            "authenticated": reg_stats.auth_ok,
            "complete": len(registered_at) == o.cps,
            "seconds": None if reg_time is None else round(reg_time, 2),
            "rate_per_s": round(len(registered_at) / reg_time, 1) if reg_time else None,
            "time_limit_s": o.register_timeout,
            "locked_out": locked,
            "sessions": _sessions(reg_stats),
        },
        "false_disconnected_total": len(false),
        "false_disconnected_examples": false[:10],
    }
    if o.steady:
        steady = merge_phase(monitors, "steady")
        ks = merge_kafka(kafka, "steady")
        ks.merge(
            merge_kafka(kafka, "ramp")
        )  # the ramp's requests are the first of the steady state
        window = sc.window("steady", "pre-kill" if storm else "end")
        result["steady"] = {
            "duration_s": o.duration,
            "authenticated": sc.authenticated_at.get("steady"),
            "heartbeats": _heartbeats(steady),
            "sessions": _sessions(steady),
            "false_disconnected": _in(false, window),
            "silenced_to_disconnected_s": _silenced(silenced, events),
            "drivers": _kafka(ks),
            **{
                k: None if v is None else round(v, 1)
                for k, v in sc.usage("steady", "pre-kill" if storm else "end").items()
            },
        }
    if storm is not None:
        st = merge_phase(monitors, "storm")
        back = storm["all_back"]
        firsts = sorted(st.auth_times)
        ok, worst = _monotonic([c["samples"] for c in monitors])
        result["storm"] = {
            "kind": storm.get("kind", "restart"),  # restarted, or a pair's standby took over
            "standby_active_s": (
                round(storm["restarted"] - storm["killed"], 2)
                if storm.get("kind") == "failover"
                else None
            ),
            "authenticated_before": storm["before"],
            "reauthorized": len(firsts),
            "all_back": back is not None,
            "time_to_all_s": None if back is None else round(back - storm["restarted"], 2),
            "time_to_all_from_kill_s": None if back is None else round(back - storm["killed"], 2),
            "time_limit_s": o.storm_timeout,
            "monotonic": ok,
            "largest_fall": worst,
            "heartbeats_reauthorized": _heartbeats(st),
            "sessions": _sessions(st),
            "false_disconnected": _in(false, sc.window("storm", "end")),
            "drivers": _kafka(merge_kafka(kafka, "storm")),
            **{k: None if v is None else round(v, 1) for k, v in sc.usage("storm", "end").items()},
        }
    result["stale_heartbeats"] = _heartbeats(merged_stale(monitors))
    return result


def merged_stale(monitors: list[dict[str, Any]]) -> Any:
    from fleet.monitors import PhaseStats

    stats = PhaseStats()
    for c in monitors:
        stats.merge(c["stale"])
    return stats
