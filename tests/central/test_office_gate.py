"""Found by evc-chaos (docs/reliability.md, finding 11): central-a, thawed after SIGSTOP with
its lease gone, took office for half a second and published every CP DISCONNECTED on the
network state over the live active's states; an idle charger stayed DISCONNECTED there for
16 s. The pair's Kafka gate now stands before a Central taking office sends anything, so a
Central whose lease is not fresh sends not even its first states."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from central_app.db import open_database
from central_app.leadership import Leadership
from central_app.runtime import CentralRuntime
from central_app.store import Store
from tests.central.conftest import offline_config


def test_a_central_whose_lease_is_gone_as_it_takes_office_publishes_no_state(
    tmp_path: Path, pg_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    db = open_database(pg_url)
    try:
        Store(db).add_cp("CP-01", "Gran Vía", 1.0, 2.0, 0.4, who="test")
    finally:
        db.dispose()
    take_office = Leadership.take_office

    def frozen_after_taking_office(self: Leadership, database):  # type: ignore[no-untyped-def]
        epoch = take_office(self, database)
        self._drop()  # frozen here: the server ended the lock session, the partner took it
        return epoch

    monkeypatch.setattr(Leadership, "take_office", frozen_after_taking_office)
    config = dataclasses.replace(offline_config(tmp_path), db_url=pg_url, central_id="central-a")
    runtime = CentralRuntime(config)
    try:
        runtime.start()
        kafka = runtime.kafka
        assert kafka is not None and runtime.config.paired
        queued = [key for topic, key, _, _ in kafka._held if topic == runtime.topics.network_state]
        assert queued == [], "a Central without its lease queued CP states for the brokers"
        assert kafka.dropped >= 1  # CP-01's DISCONNECTED met the gate
    finally:
        runtime.stop()
