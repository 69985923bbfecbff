"""The journal lane (cp_node.journal_lane): jobs in order, coalesced writes, durable futures."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from cp_core.journal import Journal
from cp_node.journal_lane import JournalLane


@pytest.fixture
def said() -> list[str]:
    return []


@pytest.fixture
def lane(said: list[str]) -> Iterator[JournalLane]:
    running = JournalLane(said.append)
    running.start()
    yield running
    running.close(3.0)


class CountingJournal(Journal):
    def __init__(self, directory: Path) -> None:
        super().__init__(directory, "CP-L")
        self.writes: list[dict] = []

    def write(self, record: dict) -> None:
        self.writes.append(record)
        super().write(record)


def _hold(lane: JournalLane) -> threading.Event:
    """Keep the lane busy until the returned event is set."""
    release = threading.Event()
    started = threading.Event()
    lane.call(lambda: (started.set(), release.wait(5)))
    assert started.wait(5)
    return release


def test_jobs_run_in_order_and_waiting_writes_are_coalesced(lane, tmp_path) -> None:
    journal = CountingJournal(tmp_path)
    order: list[str] = []
    release = _hold(lane)
    lane.write(journal, {"status": "running", "n": 1})
    lane.call(lambda: order.append(f"sent 1 after record {journal.read()['n']}"))
    lane.write(journal, {"status": "running", "n": 2})  # replaces record 1, still waiting
    lane.call(lambda: order.append(f"sent 2 after record {journal.read()['n']}"))
    assert not lane.idle
    release.set()
    lane.close(3.0)
    assert [w["n"] for w in journal.writes] == [2]  # one write instead of two
    assert order == ["sent 1 after record 2", "sent 2 after record 2"]


def test_a_write_is_not_moved_before_a_clear(lane, tmp_path) -> None:
    journal = CountingJournal(tmp_path)
    release = _hold(lane)
    lane.write(journal, {"status": "ended", "event": {}})
    lane.clear(journal)
    lane.write(journal, {"status": "running", "n": 3})
    release.set()
    lane.close(3.0)
    assert [w["status"] for w in journal.writes] == ["ended", "running"]
    assert journal.read() == {"status": "running", "n": 3}


def test_the_replay_future_is_done_once_the_window_is_on_disk(lane, tmp_path) -> None:
    journal = Journal(tmp_path, "CP-L")
    release = _hold(lane)
    done = lane.write_replay(journal, {"last_seq": 7, "sessions": []})
    assert not done.done()
    release.set()
    done.result(5)
    assert json.loads(journal.replay_path.read_text())["last_seq"] == 7


def test_a_failing_disk_is_told_once_and_the_future_still_completes(lane, said, tmp_path) -> None:
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("x")
    journal = Journal(blocker, "CP-L")  # its directory is a file: every write fails
    lane.write(journal, {"status": "running"})
    lane.write(journal, {"status": "running"})
    lane.write_replay(journal, {"last_seq": 1}).result(5)
    lane.close(3.0)
    assert sum("a crash now would lose this supply" in line for line in said) == 1
    assert sum("may not refuse a replay" in line for line in said) == 1
