"""The soak's scenario: registration and the drivers' ramp as ``evc-fleet run``, then a steady
phase of ``duration`` seconds that takes one sample every ``sample_every`` (fleet/soak.py)
instead of the run's progress lines. No CP is silenced and there is no storm: a soak is the
network at rest. Each sample is also appended to ``soak-samples.jsonl`` in the scenario's
directory as it is taken, so an interrupted 2-hour soak keeps what it measured."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from fleet import soak
from fleet.central import Sampler
from fleet.kafka_sim import KafkaPhaseStats
from fleet.monitors import PhaseStats
from fleet.options import ScenarioOptions
from fleet.scenario import Scenario
from fleet.security import KafkaAccess

POLL_S = 1.0  # snapshots between samples: they also hand the Kafka side new CP keys


class SoakScenario(Scenario):
    def __init__(
        self,
        opts: ScenarioOptions,
        bootstrap: str,
        run_dir: Path,
        sampler: Sampler,
        say: Callable[[str], None],
        kafka: KafkaAccess | None = None,
        *,
        sample_every: float = 60.0,
    ) -> None:
        super().__init__(opts, bootstrap, run_dir, sampler, say, kafka=kafka)
        self.sample_every = sample_every
        self.samples: list[dict[str, Any]] = []

    def _steady(self) -> None:
        self._ramp()
        self._set_phase("steady")
        first = self._snapshot()
        self.authenticated_at["steady"] = first["authenticated"]
        before: PhaseStats = first["stats"]
        kafka_before: KafkaPhaseStats = (first["kafka"] or {}).get("stats") or KafkaPhaseStats()
        start = time.monotonic()
        end = start + self.o.duration
        due = start + self.sample_every
        while True:
            now = time.monotonic()
            time.sleep(max(0.0, min(POLL_S, due - now, end - now)))
            snap = self._snapshot()
            now = time.monotonic()
            if now + 0.05 >= min(due, end):
                stats: PhaseStats = snap["stats"]
                kafka: KafkaPhaseStats = (snap["kafka"] or {}).get("stats") or KafkaPhaseStats()
                assert self.central is not None
                sample = soak.sample(
                    now - start,
                    soak.resources(self.central.pid or 0),
                    soak.window(stats.latency, before.latency),
                    soak.window(kafka.auth_latency, kafka_before.auth_latency),
                    kafka.tickets - kafka_before.tickets,
                    kafka.tickets,
                    snap["authenticated"],
                )
                self.samples.append(sample)
                with (self.run_dir / "soak-samples.jsonl").open("a") as journal:
                    journal.write(json.dumps(sample) + "\n")
                self.say(soak.progress_line(self.o.cps, sample))
                before, kafka_before = stats, kafka
                due += self.sample_every
            if now >= end - 0.05:
                break
