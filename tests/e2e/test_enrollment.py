"""Enrollment and revocation end to end (issue 19, defects 3 and 4; docs/cp.md, "Enrollment"):
a real secured EV_Central, EV_CP_E and EV_CP_M, the operator's real ``evc-admin``.

- A CP without the operator's one-time token is refused: the monitor says so in one line
  (not one per retry), keeps retrying at its auth-retry pace, and the CP never turns ACTIVE;
  restarted with ``--enroll-token @FILE`` it registers and goes ACTIVE.
- ``evc-admin cp revoke``: the monitor does not come back by itself (its AUTH and its
  REGISTER with the used token are refused, attempt after attempt, in the audit log); once the
  operator re-admits it (``evc-admin cp enroll --token-file`` into the file the monitor reads)
  it comes back without a restart, with a new credential and key, and supplies again.
"""

from __future__ import annotations

import sqlite3
import time

import pytest

from tests.e2e.conftest import SECURE
from tests.e2e.harness import Network, Observer
from tests.waiting import wait_for

pytestmark = pytest.mark.skipif(not SECURE, reason="only a secured Central wants tokens")

CP = "CP-03"  # seeded (resources/seed.json), so on the map, but without a credential
SUPPLY = ["--autopilot", "--plug-delay", "0.2", "--unplug-after", "2", "--speed", "20"]


def audit(network: Network, action: str, cp_id: str) -> list[tuple[str, str]]:
    """Central's audit entries ``action`` about ``cp_id``: (ts, detail), oldest first."""
    with sqlite3.connect(f"file:{network.db_path}?mode=ro", uri=True, timeout=5) as conn:
        rows = conn.execute(
            "SELECT ts, detail FROM audit_log WHERE action = ? AND (detail LIKE ? OR detail LIKE ?)"
            " ORDER BY id",
            (action, f"{cp_id}:%", f"{cp_id} %"),
        ).fetchall()
    return [(ts, detail) for ts, detail in rows]


def refusal_lines(network: Network, cp_id: str, since: float = 0.0) -> list[str]:
    monitor = network.cps[cp_id].monitor
    assert monitor is not None
    return [line for at, line in list(monitor.lines) if "Central refuses" in line and at >= since]


def test_a_cp_without_its_token_stays_out_and_its_token_lets_it_in(
    network: Network, observer: Observer
) -> None:
    network.start_central()
    network.add_cp(CP)
    network.start_engine(CP).wait_line("Engine listening for its monitor", 20)
    monitor = network.start_monitor(CP, enroll=False)
    monitor.wait_line("Central refuses CP-03", 30)
    wait_for(lambda: len(audit(network, "register_rejected", CP)) >= 3, 40, "three REGISTERs")
    (line,) = refusal_lines(network, CP)  # said once, not at every retry
    assert "one-time enrollment token" in line and "evc-admin cp enroll CP-03" in line
    assert "--enroll-token @FILE" in line
    assert all("enrollment token required" in d for _, d in audit(network, "register_rejected", CP))
    assert observer.status(CP) == "DISCONNECTED"  # on the map (seeded), never ACTIVE
    assert "ACTIVE" not in observer.statuses_since(CP, 0)
    assert not (network.tmp / "credentials" / f"{CP}.cred").exists()
    assert monitor.terminate() == 0

    token_file = network.enroll(CP)  # the operator: evc-admin cp enroll CP-03 --token-file F
    monitor = network.start_monitor(CP, "--enroll-token", f"@{token_file}", enroll=False)
    network.wait_cp_ready(observer, CP)
    assert monitor.has("Registered at Central")
    (registered,) = audit(network, "register_seeded", CP)
    assert registered[1].endswith("with an enrollment token"), registered


def test_a_revoked_cp_stays_out_until_the_operator_re_admits_it(
    network: Network, observer: Observer
) -> None:
    network.start_central()
    network.start_cp(
        CP, *SUPPLY
    )  # the harness enrolls it: --enroll-token @<tmp>/enroll/CP-03.token
    network.wait_cp_ready(observer, CP)
    monitor = network.cps[CP].monitor
    assert monitor is not None
    credential = (network.tmp / "credentials" / f"{CP}.cred").read_text()

    revoked = time.monotonic()
    done = network.admin("cp", "revoke", CP)
    assert done.returncode == 0, done.stderr
    observer.wait_status(CP, "DISCONNECTED", 15)  # a running Central drops it within 5 s
    monitor.wait_line("revoked by the operator", 20, since=revoked)
    before = len(audit(network, "register_rejected", CP))
    # it does not come back by itself: attempt after attempt (AUTH with the old credential,
    # then REGISTER with the used token) is refused, and said once
    wait_for(
        lambda: len(audit(network, "register_rejected", CP)) >= before + 3,
        45,
        "three more refused REGISTERs",
    )
    refused = audit(network, "register_rejected", CP)[before:]
    assert all("revoked by the operator" in detail for _, detail in refused), refused
    assert len(audit(network, "auth_rejected", CP)) >= 3
    (line,) = refusal_lines(network, CP, since=revoked)
    assert "evc-admin cp enroll CP-03" in line and "enroll/CP-03.token" in line
    assert observer.statuses_since(CP, revoked)[-1] == "DISCONNECTED"
    assert "ACTIVE" not in observer.statuses_since(CP, revoked)
    assert not monitor.has("authenticated", since=revoked)

    readmitted = time.monotonic()
    network.enroll(CP)  # a new token into the file the monitor already reads: no restart
    wait_for(lambda: observer.status(CP) == "ACTIVE", 30, f"{CP} ACTIVE again")
    assert monitor.alive and monitor.has("Registered at Central", since=readmitted)
    assert (network.tmp / "credentials" / f"{CP}.cred").read_text() != credential
    monitor.wait_line("Key handed to the engine", 10, since=readmitted)  # the new key
    network.start_driver("D-001")
    session = network.supplying(observer, "D-001", CP)  # sealed with the new key: obeyed
    assert network.wait_ticket(session, 30)["kwh"] > 0
    assert network.tracebacks() == []
