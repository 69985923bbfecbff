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

from fleet.scenario import Scenario
from tests.fleet.secured import run_secured, secured_options

pytestmark = [pytest.mark.kafka, pytest.mark.slow]

CPS = 300


@pytest.mark.timeout(110)
def test_300_cps_steady_and_restart_storm(secure_kafka, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    options = secured_options(
        cps=CPS,
        duration=10.0,
        storm=True,
        storm_timeout=30.0,
        silence=1,
        label="smoke",
    )
    _, result, log = run_secured(
        lambda bootstrap, sampler, say, kafka: Scenario(
            options, bootstrap, tmp_path, sampler, say, kafka=kafka
        ),
        secure_kafka,
    )
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
