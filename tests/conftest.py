"""Shared fixtures: a real Kafka broker for the session and a fresh topic prefix per test.

``EVC_KAFKA=host:port`` reuses a running broker; otherwise ``scripts/kafka-local`` starts one
on a free port in a temporary run dir, and the session stops it at the end. Area-specific
fixtures belong in ``tests/<area>/conftest.py``.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from wire.kafka.admin import ensure_topics
from wire.kafka.topics import Topics

REPO = Path(__file__).resolve().parent.parent
KAFKA_LOCAL = REPO / "scripts" / "kafka-local"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="session")
def kafka_bootstrap(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """``host:port`` of a real broker: ``EVC_KAFKA`` or one started for this session."""
    given = os.environ.get("EVC_KAFKA")
    if given:
        yield given
        return
    port = _free_port()
    run_dir = tmp_path_factory.mktemp("kafka-run")
    args = [sys.executable, str(KAFKA_LOCAL)]
    where = ["--port", str(port), "--run-dir", str(run_dir)]
    started = subprocess.run([*args, "start", *where], capture_output=True, text=True)
    try:
        if started.returncode != 0:
            pytest.fail(f"scripts/kafka-local start failed:\n{started.stdout}{started.stderr}")
        yield f"127.0.0.1:{port}"
    finally:
        subprocess.run([*args, "stop", "--run-dir", str(run_dir)], capture_output=True)


@pytest.fixture
def topics(kafka_bootstrap: str) -> Topics:
    """A ``Topics`` with a prefix unique to this test, its topics already created."""
    created = Topics(prefix=f"t{uuid.uuid4().hex[:8]}.")
    ensure_topics(kafka_bootstrap, created)
    return created
