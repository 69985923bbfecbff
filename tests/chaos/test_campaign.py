"""A short seeded fault campaign against the real HA network: its verdict must be clean.

Three brokers, PostgreSQL, the Central pair, 8 CPs, 2 OCPP chargers through EV_OCPP and 4
drivers, 90 s of faults from seed 2027 (``evc-chaos --plan-only --seed 2027 --duration 90``
prints them), then the checker. About 4 minutes on two shared cores. As root every kind of
fault is injected; otherwise partitions and disk faults are skipped with a line saying so.
A violation here is a product bug to fix, not a check to relax (docs/reliability.md).
"""

from __future__ import annotations

import os
import random
import shutil
import socket
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
SEED = 2027

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.slow,
    pytest.mark.timeout(1200),
    # In `make test` since seed 2027 came out clean four times running (docs/reliability.md,
    # "Where it stands"); EVC_CHAOS_TEST=0 leaves it out of a run. A red campaign must not be
    # hidden by loosening it: a violation here is a product bug to fix.
    pytest.mark.skipif(
        os.environ.get("EVC_CHAOS_TEST") == "0",
        reason="EVC_CHAOS_TEST=0: the fault campaign is left out of this run",
    ),
]


def free_block(count: int, avoid: set[int]) -> int:
    """A port P with P .. P+count-1 all free on 127.0.0.1, below the ephemeral range (an
    ephemeral port free now may be a client's next second) and not handed out already."""
    rng = random.Random()
    for _ in range(500):
        first = rng.randrange(20000, 32000)
        wanted = set(range(first, first + count))
        if wanted & avoid:
            continue
        try:
            for port in wanted:
                with socket.socket() as probe:
                    probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                    probe.bind(("127.0.0.1", port))
        except OSError:
            continue
        avoid |= wanted
        return first
    raise AssertionError(f"no {count} consecutive free ports")


def test_a_seeded_campaign_leaves_the_books_balanced() -> None:
    # PostgreSQL runs as its own user when we are root: the run dir must be reachable by it
    run_dir = Path(tempfile.mkdtemp(prefix="evc-chaos-test-", dir="/tmp"))
    run_dir.chmod(0o755)
    taken: set[int] = set()
    ports = {
        "--kafka-port": free_block(3, taken),
        "--central-port": free_block(2, taken),
        "--engine-base-port": free_block(8, taken),
        "--ocpp-port": free_block(1, taken),
        "--pg-port": free_block(1, taken),
        "--web-port": free_block(1, taken),
    }
    argv = [sys.executable, "-m", "chaos.main", "--seed", str(SEED), "--duration", "90"]
    argv += ["--cps", "8", "--ocpp-cps", "2", "--drivers", "4", "--run-dir", str(run_dir / "run")]
    for option, port in ports.items():
        argv += [option, str(port)]
    env = {k: v for k, v in os.environ.items() if k not in ("EVC_SECRETS", "EVC_KAFKA_CREDENTIALS")}
    done = subprocess.run(argv, cwd=REPO, env=env, capture_output=True, text=True, timeout=1100)
    out = done.stdout + done.stderr
    print(out[-30_000:])
    assert "chaos: verdict: CLEAN" in out and done.returncode == 0, (
        f"evc-chaos exit {done.returncode}; the violations and the fault timeline are above "
        f"(logs in {run_dir / 'run' / 'logs'})"
    )
    shutil.rmtree(run_dir, ignore_errors=True)  # kept when it failed, for its logs
