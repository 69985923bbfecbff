"""The one table printed at the end of a run, and the machine it ran on."""

from __future__ import annotations

import os
import platform
from pathlib import Path
from typing import Any

from fleet.pinning import describe as pinning_cell
from fleet.security import mode_label


def machine() -> dict[str, Any]:
    model = ""
    memory_gb = None
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                memory_gb = round(int(line.split()[1]) / 1024 / 1024, 1)
    except OSError:
        pass
    return {
        "nproc": os.cpu_count(),
        "cpu_model": model,
        "memory_gb": memory_gb,
        "python": platform.python_version(),
        "kernel": platform.release(),
    }


def _ms(value: float | None) -> str:
    if value is None:
        return "-"
    return f"{value:.0f}" if value >= 10 else f"{value:.1f}"


def _pair(d: dict[str, Any] | None, a: str = "p50_ms", b: str = "p99_ms") -> str:
    if not d or not d.get("count"):
        return "-"
    return f"{_ms(d.get(a))} / {_ms(d.get(b))} ms"


def _num(value: float | None, unit: str = "") -> str:
    return "-" if value is None else f"{value:.0f}{unit}"


def row(r: dict[str, Any]) -> list[str]:
    steady = r.get("steady") or {}
    storm = r.get("storm")
    reg = r["registration"]
    hb = steady.get("heartbeats") or {}
    drivers = steady.get("drivers") or {}
    answered = hb.get("answered_pct")
    silent = steady.get("silenced_to_disconnected_s") or []
    if storm is None:
        storm_cell = "-"
    elif not storm["authenticated_before"]:
        storm_cell = "n/a (no CP authenticated)"
    elif storm["all_back"] and storm.get("kind") == "failover":
        storm_cell = (
            f"failover: standby active {storm['standby_active_s']:.2f} s, "
            f"all back {storm['time_to_all_from_kill_s']:.1f} s"
        )
    elif storm["all_back"]:
        storm_cell = f"{storm['time_to_all_s']:.1f} s"
        if storm["authenticated_before"] < r["cps"]:
            storm_cell += f" ({storm['authenticated_before']:,} CPs)" + (
                "" if storm["monotonic"] else " (not monotonic)"
            )
    else:
        storm_cell = f"{storm['reauthorized']}/{storm['authenticated_before']} in {storm['time_limit_s']:.0f} s"
    if reg["complete"]:
        reg_cell = f"{reg['rate_per_s']:.0f}/s ({reg['seconds']:.0f} s)"
    else:
        reg_cell = f"{reg['registered']}/{r['cps']} in {reg['time_limit_s']:.0f} s"
    if reg["locked_out"]:
        reg_cell += f", {reg['locked_out']} locked out"
    n_cell = f"{r['cps']:,}"
    n_cell += _mode_cell(r.get("security") or {})
    if r.get("error"):
        n_cell += " (incomplete: a fleet process died)"
    authenticated = steady.get("authenticated") if steady else None
    if authenticated is not None and authenticated < r["cps"]:
        n_cell += f" ({authenticated:,} authenticated)"
    return [
        n_cell,
        _pair(hb.get("latency")),
        "-" if answered is None else f"{answered:.2f} %",
        str(steady.get("false_disconnected", "-")) if steady else "-",
        "-" if not silent else f"{min(silent):.1f}-{max(silent):.1f} s",
        "-"
        if not steady
        else f"{_num(steady.get('central_cpu_mean'))} / {_num(steady.get('central_cpu_max'), ' %')}",
        "-"
        if not steady
        else f"{_num(steady.get('central_rss_mean_mb'))} / {_num(steady.get('central_rss_max_mb'), ' MB')}",
        _pair(drivers.get("request_to_authorized")),
        _pair(drivers.get("progress_latency"), "p50_ms", "p99_ms"),
        storm_cell,
        reg_cell,
        _generator_cpu(r, steady),
        _pair(hb.get("generator_tick_lag"))
        + (f" (nice {r['monitor_nice']})" if r.get("monitor_nice") else ""),
        pinning_cell(r.get("pinning")) if "pinning" in r else "-",
    ]


def _mode_cell(security: dict[str, Any]) -> str:
    """What ran: `` TLS+sealed+SASL_SSL`` … `` plain``; results from before the broker's
    mode was recorded (always PLAINTEXT then) say only their TLS and sealing, as they did."""
    if "sasl" in security:
        return " " + mode_label(bool(security["tls"]), bool(security["sealed"]), security["sasl"])
    mode = [name for name in ("tls", "sealed") if security.get(name)]
    return (" " + "+".join("TLS" if m == "tls" else m for m in mode)) if mode else ""


def _generator_cpu(r: dict[str, Any], steady: dict[str, Any]) -> str:
    """The monitor side's CPU and the whole generator's (with the Kafka simulation and the
    coordinator), mean over the steady phase, % of one core; results from before the
    monitors were sampled apart have the whole only."""
    if not steady:
        return "-"
    whole = _num(steady.get("generator_cpu_mean"), " %")
    if steady.get("monitors_cpu_mean") is None:
        return whole
    side = {"go": "Go", "python": "Python"}.get(r.get("generator", ""), "?")
    return f"{_num(steady['monitors_cpu_mean'])} % {side} / {whole}"


HEADERS = [
    "N CPs",
    "heartbeat p50 / p99",
    "answered",
    "false DISC",
    "silent→DISC",
    "Central CPU mean / max",
    "Central RSS mean / max",
    "request→authorized p50 / p99",
    "progress p50 / p99",
    "storm: all re-authorized",
    "registration",
    "generator CPU: monitors / all",
    "generator's own lag p50 / p99",
    "pinned (taskset)",
]


def table(results: list[dict[str, Any]], markdown: bool = False) -> str:
    rows = [row(r) for r in results]
    if markdown:
        lines = ["| " + " | ".join(HEADERS) + " |", "|" + "---|" * len(HEADERS)]
        lines += ["| " + " | ".join(cells) + " |" for cells in rows]
        return "\n".join(lines)
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(HEADERS)]

    def fmt(cells: list[str]) -> str:
        return "  ".join(c.ljust(w) for c, w in zip(cells, widths, strict=True)).rstrip()

    lines = [fmt(HEADERS), fmt(["-" * w for w in widths])]
    lines += [fmt(cells) for cells in rows]
    return "\n".join(lines)
