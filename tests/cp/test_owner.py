"""The owner thread (cp_node.owner): jobs one at a time, ticks between, answers by future."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest

from cp_node.owner import Owner


@pytest.fixture
def ticks() -> list[float]:
    return []


@pytest.fixture
def owner(ticks: list[float]) -> Iterator[Owner]:
    running = Owner(name="test-owner", period=0.01, tick=ticks.append)
    running.start()
    yield running
    running.stop()


def test_jobs_run_on_the_owner_in_order_and_answer_by_future(owner, ticks) -> None:
    seen: list[tuple[int, str]] = []
    futures = [
        owner.post(lambda i=i: seen.append((i, threading.current_thread().name))) for i in range(50)
    ]
    for future in futures:
        future.result(2)
    assert seen == [(i, "test-owner") for i in range(50)]
    assert owner.call(lambda: 6 * 7, timeout=2) == 42
    threading.Event().wait(0.05)
    assert ticks  # ticks run between jobs


def test_a_failing_job_reaches_its_caller_and_the_owner_goes_on(owner) -> None:
    with pytest.raises(ZeroDivisionError):
        owner.call(lambda: 1 / 0, timeout=2)
    assert owner.call(lambda: "still here", timeout=2) == "still here"


def test_a_busy_owner_is_a_time_out_for_the_caller_not_a_wait(owner) -> None:
    release = threading.Event()
    owner.post(lambda: release.wait(5))
    with pytest.raises(TimeoutError):
        owner.call(lambda: None, timeout=0.1)
    release.set()


def test_without_a_running_owner_the_caller_runs_the_job() -> None:
    idle = Owner(name="never-started", period=1.0, tick=lambda now: None)
    assert idle.call(threading.current_thread, timeout=0.1) is threading.current_thread()
