"""``WriteStall``: a stall is said once after ``after_s`` without progress, its end once."""

from __future__ import annotations

from wire.kafka.stall import WriteStall


def test_stall_said_once_then_its_end() -> None:
    stall = WriteStall(after_s=5.0)
    stall.queued(100.0)
    assert stall.check(104.0, pending=3) is None
    said = stall.check(105.5, pending=3)
    assert said is not None and "stalled: 3 events" in said and "two brokers of three" in said
    assert stall.stalled and stall.check(110.0, pending=4) is None  # once
    resumed = stall.delivered(112.0, pending=3)
    assert resumed == "Kafka writes resumed after 12 s; 3 queued events follow"
    assert not stall.stalled and stall.delivered(112.1, pending=2) is None


def test_progress_or_an_empty_queue_is_no_stall() -> None:
    stall = WriteStall(after_s=5.0)
    stall.queued(0.0)
    stall.delivered(4.0, pending=1)  # slow but moving
    assert stall.check(8.0, pending=1) is None
    assert stall.check(20.0, pending=0) is None  # idle: nothing waits
    stall.queued(30.0)
    assert stall.check(34.0, pending=1) is None and stall.check(35.0, pending=1) is not None
