"""Found by evc-chaos (docs/reliability.md): every change of role of a pair's Central (a
deposed active starts again as the standby, in the same process) left an event loop's files
and the Kafka clients' sockets open — 34 to 163 open files after three changes. A stopped
runtime now closes its loop and lets the rest be collected."""

from __future__ import annotations

import os
from pathlib import Path

from central_app.runtime import CentralConfig, CentralRuntime
from tests.central.conftest import unused_port


def _open_files() -> int:
    return len(os.listdir(f"/proc/{os.getpid()}/fd"))


def test_starting_and_stopping_again_and_again_leaks_no_files(tmp_path: Path) -> None:
    def cycle() -> None:
        runtime = CentralRuntime(
            CentralConfig(
                port=0,
                host="127.0.0.1",
                kafka=f"127.0.0.1:{unused_port()}",
                db_url=f"sqlite:///{tmp_path / 'central.db'}",
                topic_prefix="unit.",
                insecure=True,
            )
        )
        runtime.start()
        runtime.stop()

    cycle()  # the first one opens what a process keeps (the database file, libraries)
    before = _open_files()
    for _ in range(4):
        cycle()
    assert _open_files() - before <= 2, sorted(os.listdir(f"/proc/{os.getpid()}/fd"))
