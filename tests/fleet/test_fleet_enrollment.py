"""``evc-fleet --tls --sealed`` against a secured EV_Central: a secured Central registers no
CP without the operator's one-time enrollment token, so the fleet issues one per simulated
CP in one transaction before its monitors start (``evc-admin cp enroll-many``) and each
REGISTER carries its own. Every CP registers, none is refused."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from fleet.commands import default_central_command
from fleet.scenario import Scenario, ScenarioOptions
from tests.fleet.secured import run_sampled

pytestmark = [pytest.mark.kafka, pytest.mark.slow]

REPO = Path(__file__).resolve().parents[2]
CPS = 60


@pytest.mark.timeout(120)
def test_a_secured_central_registers_every_cp_with_the_fleets_bulk_tokens(
    kafka_bootstrap: str, tmp_path: Path
) -> None:
    options = ScenarioOptions(
        cps=CPS,
        steady=False,
        workers=1,
        register_timeout=40.0,
        tls=True,
        sealed=True,
        generator="python",
        central_cmd=default_central_command(),
        pythonpath=str(REPO),
        progress_every=60.0,
        label="enrollment",
    )
    _, result, text = run_sampled(
        lambda sampler, say: Scenario(options, kafka_bootstrap, tmp_path, sampler, say)
    )
    registration = result["registration"]
    assert registration["complete"] and registration["locked_out"] == 0, (registration, text)
    assert "error" not in result, result["error"]

    db = tmp_path / "central" / "evcentral.db"
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as conn:
        actions = dict(
            conn.execute("SELECT action, count(*) FROM audit_log GROUP BY action").fetchall()
        )
        enrolled = conn.execute(
            "SELECT count(*) FROM audit_log WHERE action = 'register_new'"
            " AND detail LIKE '%with an enrollment token'"
        ).fetchone()[0]
        unused = conn.execute(
            "SELECT count(*) FROM enrollment_tokens WHERE used_at IS NULL"
        ).fetchone()[0]
    assert actions.get("enroll_issued") == CPS, actions
    assert enrolled == CPS and unused == 0, (enrolled, unused)
    assert "register_rejected" not in actions, actions
