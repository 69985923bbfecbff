"""Found by evc-chaos (docs/reliability.md): every change of role of a pair's Central (a
deposed active starts again as the standby, in the same process) left an event loop's files
and the Kafka clients' sockets open — 34 to 163 open files after three changes. A stopped
runtime now closes its loop and lets the rest be collected."""

from __future__ import annotations

import gc
import os
import threading
import time
from pathlib import Path

from central_app.config import CentralConfig
from central_app.db import open_database
from central_app.leadership import Leadership
from central_app.runtime import CentralRuntime
from chaos.host import fd_kinds
from tests.central.conftest import offline_config
from tests.waiting import wait_for
from wire.kafka.topics import Topics


def _open_files() -> int:
    return len(os.listdir(f"/proc/{os.getpid()}/fd"))


def test_starting_and_stopping_again_and_again_leaks_no_files(tmp_path: Path) -> None:
    def cycle() -> None:
        runtime = CentralRuntime(offline_config(tmp_path))
        runtime.start()
        runtime.stop()

    cycle()  # the first one opens what a process keeps (the database file, libraries)
    before = _open_files()
    for _ in range(4):
        cycle()
    assert _open_files() - before <= 2, sorted(os.listdir(f"/proc/{os.getpid()}/fd"))


def _kinds() -> dict[str, int]:
    """This process's open files by kind (pipes, eventpoll, Kafka, PostgreSQL, …)."""
    return fd_kinds(os.getpid(), {})


def test_role_changes_through_lease_loss_with_kafka_connected_leak_no_files(
    pg_url: str, kafka_bootstrap: str, topics: Topics
) -> None:
    """The campaign's case (seed 2027: pipes 20 -> 50, Kafka sockets 4 -> 12 after two role
    changes): a paired Central, Kafka connected, deposed by losing its lease while the
    partner takes office (the epoch moves: fencing), waiting as the standby, taking over
    again — the way EV_Central's main loop does it, in one process."""
    config = CentralConfig(
        port=0,
        host="127.0.0.1",
        kafka=kafka_bootstrap,
        db_url=pg_url,
        topic_prefix=topics.prefix,
        insecure=True,
        central_id="central-x",
        pair=True,
    )
    partner = Leadership(pg_url, "central-partner")
    partner_db = open_database(pg_url)
    counts: list[tuple[int, dict[str, int]]] = []
    runtime: CentralRuntime | None = None
    try:
        assert partner.try_acquire()  # the partner is active: ours starts as the standby
        for _ in range(4):
            runtime = CentralRuntime(config)
            starting = threading.Thread(target=runtime.start, daemon=True)
            starting.start()
            time.sleep(2.5)  # standby: its producer sends central_alive, its topics checked
            partner._drop()  # the partner's lock session ends: ours takes over
            starting.join(timeout=30)
            assert not starting.is_alive(), "the standby did not take over"
            kafka = runtime.kafka
            assert kafka is not None
            wait_for(lambda k=kafka: k.up, 30, "Central's Kafka consumer to be subscribed")
            time.sleep(1.5)  # central_alive sent, the consumer polling
            gc.collect()
            counts.append((_open_files(), _kinds()))
            # the lease is lost (its lock session gone) and the partner takes office: the
            # epoch moves, so what this one still commits is fenced
            leadership = runtime.pair.leadership
            assert leadership is not None
            leadership._drop()
            wait_for(partner.try_acquire, 10, "the partner to take the lock")
            partner.take_office(partner_db)
            wait_for(runtime.pair.deposed.is_set, 10, "the active to step down")
            runtime.stop()  # EV_Central's loop then builds a new runtime, as the standby
    finally:
        if runtime is not None:
            runtime.stop()
        partner.close()
        partner_db.dispose()
    (first, first_kinds), (last, last_kinds) = counts[0], counts[-1]
    assert last - first <= 2, f"as the active: {first_kinds} the first time, {last_kinds} the last"
