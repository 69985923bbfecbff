"""The gateway the unit tests of EV_OCPP build: a real ``Gateway`` whose Central and broker
are addresses where nothing listens (port 1), so that a test drives its upgrade check, its
charge points or its counters without a network; one place for what every such test passes."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from cp_core.passwords import PasswordFile
from ocpp_gateway.gateway import Gateway
from wire.kafka.topics import Topics


def idle_gateway(tmp_path: Path, **options: Any) -> Gateway:
    """A ``Gateway`` over ``tmp_path`` (state, credentials, passwords) reaching no Central and
    no broker, quiet (``say`` drops its lines) and ``insecure``; ``options`` add to or
    override the Gateway's keyword arguments (``central``, ``passwords``, ``connectors`` …)."""
    kwargs: dict[str, Any] = {
        "central": ("127.0.0.1", 1),
        "kafka": "127.0.0.1:1",
        "topics": Topics("t."),
        "state_dir": tmp_path / "state",
        "credentials_dir": tmp_path / "creds",
        "passwords": PasswordFile(tmp_path / "pw.json"),
        "insecure": True,
        "say": lambda text: None,
        **options,
    }
    return Gateway(**kwargs)
