"""Smoke run of ``evc-fleet`` (docs/performance.md): 300 simulated CPs on the secured network
``evc-fleet`` measures by default (TLS on the monitor link, sealed values, enrollment tokens,
the session's SASL_SSL broker with each process in its own role), against a real EV_Central
process — registration, a short steady phase with drivers, a silenced CP, then Central
SIGKILLed and restarted.

It asserts correctness only (every heartbeat answered, no false DISCONNECTED, everybody back
after the restart, authorizations reach the drivers), never timings: the figures are
``make bench``'s job.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from fleet.central import Sampler
from fleet.commands import default_central_command
from fleet.scenario import Scenario, ScenarioOptions
from fleet.security import KafkaAccess

pytestmark = [pytest.mark.kafka, pytest.mark.slow]

REPO = Path(__file__).resolve().parents[2]
CPS = 300


@pytest.mark.timeout(110)
def test_300_cps_steady_and_restart_storm(secure_kafka, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    options = ScenarioOptions(
        cps=CPS,
        duration=10.0,
        storm=True,
        workers=1,
        supply_seconds=6.0,
        register_timeout=30.0,
        storm_timeout=30.0,
        silence=1,
        central_cmd=default_central_command(),
        pythonpath=str(REPO),
        progress_every=60.0,
        label="smoke",
        # the default network is the secured one (issue 20): TLS on the monitor link, sealed
        # Kafka values, enrollment tokens for every new CP, a SASL_SSL broker (below)
        tls=True,
        sealed=True,
    )
    sampler = Sampler()
    sampler.start()
    lines: list[str] = []
    try:
        kafka = KafkaAccess(secure_kafka.secrets.root)  # the role files of the broker's users
        scenario = Scenario(
            options, secure_kafka.bootstrap, tmp_path, sampler, lines.append, kafka=kafka
        )
        result = scenario.run()
    finally:
        sampler.stop()
    log = "\n".join(lines)
    assert result["security"] == {"tls": True, "sealed": True, "sasl": True}, result["security"]

    registration = result["registration"]
    assert registration["complete"], (registration, log)
    assert registration["locked_out"] == 0, registration

    steady = result["steady"]
    heartbeats = steady["heartbeats"]
    assert heartbeats["due"] > CPS, heartbeats
    assert heartbeats["answered"] == heartbeats["due"], heartbeats
    assert steady["false_disconnected"] == 0, result["false_disconnected_examples"]
    assert len(steady["silenced_to_disconnected_s"]) == 1, steady  # the silent CP went grey
    drivers = steady["drivers"]
    assert drivers["authorized"] > 0, drivers
    assert drivers["progress_relayed"] > 0, drivers

    storm = result["storm"]
    assert storm["authenticated_before"] >= CPS - 1, storm
    assert storm["all_back"], storm
    assert storm["reauthorized"] >= storm["authenticated_before"], storm
    assert storm["monotonic"], storm
    reauthorized = storm["heartbeats_reauthorized"]
    assert reauthorized["due"] > 0
    assert reauthorized["answered"] == reauthorized["due"], reauthorized
    assert result["false_disconnected_total"] == 0, result["false_disconnected_examples"]
