"""``scripts/kafka-local`` starts, reports and stops a real broker on its own port."""

from __future__ import annotations

import socket
import subprocess
import sys
from pathlib import Path

import pytest

from wire.kafka.admin import broker_reachable

SCRIPT = Path(__file__).resolve().parent.parent / "scripts" / "kafka-local"

pytestmark = pytest.mark.kafka


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(SCRIPT), *args], capture_output=True, text=True, timeout=120
    )


def test_start_status_stop(tmp_path: Path) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    where = ["--port", str(port), "--run-dir", str(tmp_path / "run"), "--insecure"]
    try:
        started = run("start", *where)
        assert started.returncode == 0, started.stdout + started.stderr
        assert "broker up" in started.stdout and "INSECURE" in started.stdout
        assert run("status", *where).returncode == 0
        assert broker_reachable(f"127.0.0.1:{port}", timeout=5)
        again = run("start", *where)  # already up: a no-op success
        assert again.returncode == 0 and "already running" in again.stdout
        assert (tmp_path / "run" / "broker.log").stat().st_size > 0
    finally:
        stopped = run("stop", *where)
    assert stopped.returncode == 0, stopped.stdout + stopped.stderr
    assert run("status", *where).returncode == 1
    assert not broker_reachable(f"127.0.0.1:{port}", timeout=0.5)
    assert not (tmp_path / "run" / "kafka.pid").exists()


def test_a_run_dir_keeps_its_mode(tmp_path: Path) -> None:
    """A broker formatted --insecure is never restarted as if secure (nor the reverse)."""
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    (run_dir / "security.json").write_text('{"mode": "insecure"}\n')
    refused = run("start", "--port", "1", "--run-dir", str(run_dir), "--secrets", str(tmp_path))
    assert refused.returncode == 2
    assert "--insecure" in refused.stderr and "Traceback" not in refused.stderr
