"""``WriteStall``: a stall is said once after ``after_s`` without progress, its end once; what
is known is said (how many brokers answer), and neither an outage nor this process's own
pause is called a stall (issue 23, item 8). The producer checks once a second."""

from __future__ import annotations

from wire.kafka.stall import WriteStall


def tick(stall: WriteStall, start: float, end: float, pending: int, up: int = 1, brokers: int = 1):
    """``check`` once a second from ``start`` to ``end``; the messages said."""
    said = []
    t = start
    while t <= end + 1e-9:
        if (line := stall.check(t, pending, up, brokers)) is not None:
            said.append((t, line))
        t += 1.0
    return said


def test_stall_said_once_then_its_end() -> None:
    stall = WriteStall(after_s=5.0)
    stall.queued(100.0)
    said = tick(stall, 100.0, 110.0, pending=3, up=1, brokers=3)
    assert [t for t, _ in said] == [105.0]
    line = said[0][1]
    assert "stalled: 3 events unacknowledged for 5 s" in line
    assert "only 1 of the cluster's 3 brokers answer (too few in-sync replicas" in line
    resumed = stall.delivered(112.0, pending=3)
    assert resumed == "Kafka writes resumed after 12 s; 3 queued events follow"
    assert not stall.stalled and stall.delivered(112.1, pending=2) is None


def test_no_guess_about_replicas_when_every_broker_answers() -> None:
    stall = WriteStall(after_s=5.0)
    stall.queued(0.0)
    ((_, line),) = tick(stall, 0.0, 6.0, pending=2, up=1, brokers=1)
    assert "although the broker answers;" in line and "replicas" not in line
    stall = WriteStall(after_s=5.0)
    stall.queued(0.0)
    ((_, line),) = tick(stall, 0.0, 6.0, pending=2, up=3, brokers=3)
    assert "although all 3 brokers answer;" in line and "replicas" not in line


def test_progress_or_an_empty_queue_is_no_stall() -> None:
    stall = WriteStall(after_s=5.0)
    stall.queued(0.0)
    assert tick(stall, 0.0, 3.0, pending=1) == []
    stall.delivered(4.0, pending=1)  # slow but moving
    assert tick(stall, 4.0, 8.0, pending=1) == []
    assert tick(stall, 9.0, 20.0, pending=0) == []  # idle: nothing waits
    stall.queued(30.0)
    assert [t for t, _ in tick(stall, 21.0, 40.0, pending=1)] == [35.0]


def test_a_broker_that_was_down_is_not_a_stall_when_it_comes_back() -> None:
    """One broker, down for 17 s: the outage is "Kafka down"; back, it delivers within a
    second or two, and nothing is called a stall (it was, with "two brokers of three down?")."""
    stall = WriteStall(after_s=5.0)
    stall.queued(0.0)
    t = 0.0
    while t <= 17.0:
        stall.unreachable(t)
        t += 1.0
    assert tick(stall, 18.0, 20.0, pending=40) == []  # reconnecting, the idempotent producer
    assert stall.delivered(20.5, pending=39) is None
    assert not stall.stalled


def test_a_frozen_process_is_not_a_stall() -> None:
    """SIGSTOP for 30 s with events queued: on SIGCONT the first check comes 31 s after the
    previous one; the cluster had no chance to deliver meanwhile, so no stall is said."""
    stall = WriteStall(after_s=5.0)
    stall.queued(0.0)
    assert tick(stall, 0.0, 3.0, pending=5) == []
    assert tick(stall, 34.0, 36.0, pending=5) == []  # frozen from 3 s to 34 s
    assert stall.delivered(36.5, pending=0) is None


def test_a_real_stall_after_a_pause_is_still_said() -> None:
    stall = WriteStall(after_s=5.0)
    stall.queued(0.0)
    tick(stall, 0.0, 2.0, pending=5, up=1, brokers=3)
    said = tick(stall, 30.0, 40.0, pending=5, up=1, brokers=3)  # paused from 2 s to 30 s
    assert [t for t, _ in said] == [34.0]  # 5 s of the cluster's silence after the pause
