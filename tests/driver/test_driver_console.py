"""``EV_Driver --no-gui`` as a real subprocess: one line per event, a file run, exit codes."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
# ``python -m`` from the repo root: works whether or not the editable install maps the
# packages yet (the ``EV_Driver`` console script runs the same ``driver_app.main:main``).
EV_DRIVER = [sys.executable, "-m", "driver_app.main"]


def _run(args: list[str], timeout: float = 90) -> subprocess.CompletedProcess:
    """Run EV_Driver; ``--insecure`` unless the test gives a ``--driver-key`` (the scripted
    Central of these tests sends plain notices)."""
    if "--driver-key" not in args and "--insecure" not in args:
        args = [*args, "--insecure"]
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    env.pop("EVC_TOPIC_PREFIX", None)
    return subprocess.run(
        [*EV_DRIVER, *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env,
        stdin=subprocess.DEVNULL,
        cwd=REPO,
    )


@pytest.mark.process
@pytest.mark.kafka
def test_console_runs_a_file_to_its_end(central, kafka_bootstrap, topics, tmp_path):
    central.publish_seed()
    central.set_alive(True)
    central.on_request = central.full_supply
    services = tmp_path / "services.txt"
    services.write_text("# test file\nCP-01\nCP-99\n\nCP-02\n")
    result = _run(
        [
            "--kafka", kafka_bootstrap,
            "--driver-id", "D-010",
            "--topic-prefix", topics.prefix,
            "--services", str(services),
            "--data-dir", str(tmp_path / "data"),
            "--pause", "0.5",
            "--no-gui",
        ]
    )  # fmt: skip
    out = result.stdout
    assert result.returncode == 0, out + result.stderr
    assert "[D-010] CP-01 authorized — plug in at CP-01 (Harbour)" in out
    assert "[D-010] CP-01 supplying 7.20 kW · 0.100 kWh" in out
    assert "[D-010] line 3: unknown CP id 'CP-99' — skipped" in out
    assert out.count("[D-010] request 3 of 3: CP-02") == 1, out  # once, after the skip
    assert out.count("Central online") == 1, out
    assert out.count("network: 4 charging points known") == 1, out
    assert "ran all 3 entries — 2 finished, 1 skipped" in out
    assert "Traceback" not in result.stderr
    assert len((tmp_path / "data" / "tickets.jsonl").read_text().splitlines()) == 2


@pytest.mark.process
def test_console_without_kafka_says_so_and_ends_the_file(tmp_path):
    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    services = tmp_path / "services.txt"
    services.write_text("CP-01\nCP-02\n")
    result = _run(
        [
            "--kafka", f"127.0.0.1:{port}",
            "--driver-id", "D-011",
            "--services", str(services),
            "--data-dir", str(tmp_path / "data"),
            "--request-timeout", "1",
            "--pause", "0.2",
            "--no-gui",
        ],
        timeout=60,
    )  # fmt: skip
    out = result.stdout
    assert result.returncode == 0, out + result.stderr
    assert "Cannot reach CENTRAL" in out
    assert out.count("no answer in 1 s — Cannot reach CENTRAL") == 2
    assert "2 timed out" in out
    assert "Traceback" not in result.stderr + out


@pytest.mark.process
def test_console_bad_services_file(tmp_path):
    result = _run(
        [
            "--kafka",
            "127.0.0.1:9",
            "--driver-id",
            "D-1",
            "--services",
            str(tmp_path / "nope.txt"),
            "--no-gui",
        ]
    )
    assert result.returncode == 2
    assert "cannot read" in result.stderr and "Traceback" not in result.stderr
