"""A stand-in for Central's core, for the screenshot and benchmark scripts (not for production).

:class:`DemoCentral` implements ``CentralControls`` in memory: Stop/Resume change the CP and
notify the listeners like the core would. :func:`seeded_cps` gives the repository's 12 seed
CPs spread over all five states, so a screenshot shows every colour and legend.
"""

from __future__ import annotations

import json
import threading
from dataclasses import replace
from pathlib import Path

from central_app.views import (
    CentralListener,
    CpStatus,
    CpView,
    LinkStatus,
    LogEntry,
    LogLevel,
    RequestPhase,
    RequestView,
)
from wire.timefmt import now_ts

__all__ = ["DemoCentral", "demo_log", "demo_requests", "seeded_cps"]

SEED_PATH = Path(__file__).resolve().parents[2] / "resources" / "seed.json"

# (status, engine, driver, kW, kWh, €-factor) per seed CP, in seed order: every state appears.
_DEMO_STATES: list[tuple[CpStatus, str | None, str | None, float, float]] = [
    (CpStatus.SUPPLYING, "OK", "D-003", 22.4, 5.31),
    (CpStatus.ACTIVE, "OK", None, 0.0, 0.0),
    (CpStatus.SUPPLYING, "OK", "D-007", 7.2, 12.85),
    (CpStatus.STOPPED, "OK", None, 0.0, 0.0),
    (CpStatus.ACTIVE, "OK", None, 0.0, 0.0),
    (CpStatus.BROKEN, "KO", None, 0.0, 0.0),
    (CpStatus.ACTIVE, "OK", "D-011", 0.0, 0.0),  # authorized, waiting for the plug
    (CpStatus.DISCONNECTED, None, None, 0.0, 0.0),
    (CpStatus.SUPPLYING, "OK", "D-001", 50.0, 31.40),
    (CpStatus.ACTIVE, "OK", None, 0.0, 0.0),
    (CpStatus.BROKEN, "UNREACHABLE", None, 0.0, 0.0),
    (CpStatus.DISCONNECTED, None, None, 0.0, 0.0),
]


def seeded_cps(path: Path = SEED_PATH) -> list[CpView]:
    """The seed CPs (or a built-in copy if the file is missing) in all five states."""
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))["charging_points"]
    except (OSError, ValueError, KeyError):
        raw = [
            {"id": f"CP-{i:02d}", "location": "Old Town", "x": 80 * i, "y": 50 * i, "price": 0.4}
            for i in range(1, 13)
        ]
    cps = []
    for i, item in enumerate(raw):
        status, engine, driver, kw, kwh = _DEMO_STATES[i % len(_DEMO_STATES)]
        price = float(item["price"])
        cps.append(
            CpView(
                cp_id=item["id"],
                location=item["location"],
                x=float(item["x"]),
                y=float(item["y"]),
                price=price,
                status=status,
                engine=engine,
                admin_state="STOPPED" if status is CpStatus.STOPPED else "ACTIVE",
                driver_id=driver,
                session_id=f"S-{i:04d}" if driver else None,
                kw=kw,
                kwh=kwh,
                eur=round(kwh * price, 2),
            )
        )
    return cps


def demo_requests() -> list[RequestView]:
    """Requests in every phase, oldest first."""
    return [
        RequestView("R-1001", "D-005", "CP-06", RequestPhase.DENIED, "CP is BROKEN", origin="app"),
        RequestView("R-1002", "D-009", "CP-04", RequestPhase.DENIED, "CP is out of order"),
        RequestView("R-1003", "D-002", "CP-02", RequestPhase.FINISHED, "8.20 kWh · 3.69 €"),
        RequestView("R-1004", "D-003", "CP-01", RequestPhase.SUPPLYING, "22.4 kW", "S-0000"),
        RequestView("R-1005", "D-007", "CP-03", RequestPhase.SUPPLYING, "7.2 kW", "S-0002", "file"),
        RequestView("R-1006", "D-001", "CP-09", RequestPhase.SUPPLYING, "50.0 kW", "S-0008", "cp"),
        RequestView(
            "R-1007", "D-011", "CP-07", RequestPhase.AUTHORIZED, "plug in within 30 s", "S-0006"
        ),
        RequestView("R-1008", "D-004", "CP-10", RequestPhase.RECEIVED, "checking driver and CP"),
    ]


def demo_log() -> list[LogEntry]:
    return [
        LogEntry("Central started: TCP :7000, database sqlite:///central.db", source="central"),
        LogEntry("12 charging points loaded from the database", source="central"),
        LogEntry("monitor authenticated", source="CP-01"),
        LogEntry("request from D-005 denied: CP is BROKEN", LogLevel.WARNING, "CP-06"),
        LogEntry("engine KO reported by the monitor", LogLevel.ERROR, "CP-06"),
        LogEntry("STOP by the operator", source="CP-04"),
        LogEntry("supply finished: 8.20 kWh, 3.69 €, ticket sent", source="CP-02"),
        LogEntry("authorized D-003, plug in now", source="CP-01"),
        LogEntry("supplying D-003", source="CP-01"),
        LogEntry("no heartbeat for 3 s: DISCONNECTED", LogLevel.WARNING, "CP-08"),
        LogEntry("engine unreachable", LogLevel.ERROR, "CP-11"),
        LogEntry("request R-1008 from D-004 received", source="driver D-004"),
    ]


class DemoCentral:
    """In-memory ``CentralControls``; thread-safe enough for the benchmark's feeder thread."""

    def __init__(self, cps: list[CpView] | None = None) -> None:
        self._lock = threading.Lock()
        self._cps = {cp.cp_id: cp for cp in (cps if cps is not None else seeded_cps())}
        self._listeners: list[CentralListener] = []
        self._links = LinkStatus(
            kafka_up=True,
            database_ok=True,
            database_url="sqlite:///central.db",
            tcp_port=7000,
            monitors_connected=sum(
                1 for cp in self._cps.values() if cp.status is not CpStatus.DISCONNECTED
            ),
        )
        self.calls: list[tuple[str, str | None]] = []

    def snapshot(self) -> list[CpView]:
        with self._lock:
            return list(self._cps.values())

    def links(self) -> LinkStatus:
        return self._links

    def add_listener(self, listener: CentralListener) -> None:
        self._listeners.append(listener)

    def remove_listener(self, listener: CentralListener) -> None:
        if listener in self._listeners:
            self._listeners.remove(listener)

    def publish(self, cp: CpView) -> None:
        with self._lock:
            self._cps[cp.cp_id] = cp
        for listener in list(self._listeners):
            listener.cp_changed(cp)

    def stop_cp(self, cp_id: str) -> None:
        self.calls.append(("stop_cp", cp_id))
        self._set_admin(cp_id, "STOPPED")

    def resume_cp(self, cp_id: str) -> None:
        self.calls.append(("resume_cp", cp_id))
        self._set_admin(cp_id, "ACTIVE")

    def stop_all(self) -> None:
        self.calls.append(("stop_all", None))
        for cp_id in list(self._cps):
            self._set_admin(cp_id, "STOPPED")

    def resume_all(self) -> None:
        self.calls.append(("resume_all", None))
        for cp_id in list(self._cps):
            self._set_admin(cp_id, "ACTIVE")

    def set_price(self, cp_id: str, price: float) -> None:
        self.calls.append(("set_price", cp_id))
        cp = self._cps.get(cp_id)
        if cp is None:
            raise KeyError(f"unknown CP {cp_id}")
        self.publish(replace(cp, price=price, updated_at=now_ts()))

    def _set_admin(self, cp_id: str, admin: str) -> None:
        cp = self._cps.get(cp_id)
        if cp is None:
            raise KeyError(f"unknown CP {cp_id}")
        status = cp.status
        if status in (CpStatus.ACTIVE, CpStatus.SUPPLYING, CpStatus.STOPPED):
            status = CpStatus.STOPPED if admin == "STOPPED" else CpStatus.ACTIVE
        self.publish(
            replace(
                cp,
                admin_state=admin,
                status=status,
                driver_id=None,
                kw=0.0,
                kwh=0.0,
                eur=0.0,
                updated_at=now_ts(),
            )
        )
