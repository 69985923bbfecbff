"""What one scenario of ``evc-fleet`` runs: the options ``fleet.main`` builds and
``fleet.scenario`` and ``fleet.results`` read (a module of its own so neither imports the
other for it)."""

from __future__ import annotations

from dataclasses import dataclass, field

from fleet.pinning import Pinning


@dataclass
class ScenarioOptions:
    cps: int
    duration: float = 60.0
    steady: bool = True
    storm: bool = False
    workers: int = 0  # 0 = one per MONITORS_PER_WORKER monitors, at most the cores
    drivers: int = 0  # 0 = enough for the share
    share: float = 0.2
    supply_seconds: float = 30.0
    register_timeout: float = 300.0
    storm_timeout: float = 60.0
    silence: int = 3
    response_timeout: float = 10.0
    # The monitor workers' nice value: each stands for thousands of monitors that would have
    # their own hardware, so on a shared machine they go ahead of Central, the broker and
    # the Kafka simulation (docs/performance.md, "The generator's own lag").
    monitor_nice: int = -5
    spread: float = 1.0
    central_cmd: list[str] = field(default_factory=list)
    pythonpath: str | None = None
    central_args: list[str] = field(default_factory=list)
    progress_every: float = 5.0
    label: str = ""
    tls: bool = False  # monitors ⇄ Central over TLS (Central with --tls-cert/--tls-key)
    sealed: bool = False  # Kafka values sealed with the CPs' and drivers' keys
    # An active/standby pair on PostgreSQL (``db_url``, else scripts/pg-local in the run dir);
    # the storm then SIGKILLs the active one and the standby takes over (fleet/pair.py).
    failover: bool = False
    db_url: str | None = None
    # The monitor side: "python" (worker processes of fleet/monitors.py, one per 2,500
    # monitors) or "go" (one process of fleet/gomon, the same semantics at a fraction of the
    # CPU; fleet/go_generator.py). ``evc-fleet`` picks "go" wherever it builds.
    generator: str = "python"
    # Central on ``pin.central``, the Kafka simulation and the monitors on ``pin.rest``
    # (fleet/pinning.py; evc-fleet pins itself and the broker it starts there too).
    pin: Pinning | None = None
