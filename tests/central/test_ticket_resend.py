"""The tickets a Central taking office sends again (central_app.ticket_resend), without
Kafka: the read-back is a function here. Finding 9 of docs/reliability.md: a ticket whose
notice is on the brokers is not sent again, even when its acknowledgement was never
written; one whose notice is not there is, as is everything when the brokers cannot be
read back."""

from __future__ import annotations

import threading
from collections.abc import Callable

from central_app.billing import TicketData
from central_app.notice_readback import NoticeId
from central_app.ticket_resend import CLOCK_MARGIN_S, Pending, TicketResend, read_from_ms, split
from tests.waiting import wait_for
from wire.errors import KafkaError


def _ticket(
    session_id: str, driver_id: str = "D-001", ended_at: str = "2026-12-07T21:51:15.046Z"
) -> TicketData:
    return TicketData(session_id, "CP-01", driver_id, 0.5, 0.21, "t0", ended_at, "unplugged")


class _Owner:
    """Collects what the resend hands to the owner."""

    def __init__(self) -> None:
        self.sent: list[Pending] = []
        self.marked: list[tuple[str, bool]] = []
        self.done = threading.Event()

    def post(self, fn: Callable[[], None]) -> None:
        fn()
        self.done.set()

    def send(self, pending: list[Pending]) -> None:
        self.sent.extend(pending)

    def mark(self, session_id: str, amended: bool) -> None:
        self.marked.append((session_id, amended))


def _resend(
    pending: list[Pending],
    read_back: Callable[[set[str], int, float], set[NoticeId]],
    owner: _Owner,
    stopped: threading.Event | None = None,
    give_up_s: float = 60.0,
) -> TicketResend:
    return TicketResend(
        pending,
        read_back=read_back,
        post=owner.post,
        send=owner.send,
        mark=owner.mark,
        stopped=stopped or threading.Event(),
        window_s=600.0,
        grace_s=0.0,
        give_up_s=give_up_s,
        retry_s=0.01,
    )


def test_a_notice_on_the_topic_is_not_sent_again_but_marked() -> None:
    acked, lost = (_ticket("s-acked"), None), (_ticket("s-lost", "D-002"), None)
    asked: list[set[str]] = []

    def read_back(drivers: set[str], since_ms: int, timeout: float) -> set[NoticeId]:
        asked.append(drivers)
        return {("s-acked", False), ("s-other", False)}

    owner = _Owner()
    _resend([acked, lost], read_back, owner).start()
    assert owner.done.wait(10)
    assert asked == [{"D-001", "D-002"}]
    assert owner.sent == [lost]
    assert owner.marked == [("s-acked", False)]


def test_the_read_back_starts_before_the_earliest_end_within_the_window() -> None:
    """At 10,000 CPs the whole window is millions of notices; a killed Central's
    unacknowledged tickets are from its last seconds."""
    ended = 1_796_680_275_046  # 2026-12-07T21:51:15.046Z
    pending = [
        (_ticket("s-1", ended_at="2026-12-07T21:51:15.046Z"), None),
        (_ticket("s-2", ended_at="2026-12-07T21:55:00.000Z"), None),
    ]
    window = ended - 900_000
    assert read_from_ms(pending, window) == ended - int(CLOCK_MARGIN_S * 1000)
    assert read_from_ms(pending, ended) == ended  # never before the window
    unreadable = [*pending, (_ticket("s-3", ended_at=""), None)]
    assert read_from_ms(unreadable, window) == window


def test_an_amendment_is_a_notice_of_its_own() -> None:
    """The first ticket on the topic does not stand for its amendment."""
    amended = (_ticket("s-1"), "0.300 kWh, 0.13 EUR (monitor_lost)")
    assert split([amended], {("s-1", False)}) == ([amended], [])
    assert split([amended], {("s-1", True)}) == ([], [amended])


def test_tickets_are_sent_when_the_brokers_cannot_be_read_back() -> None:
    tries = 0

    def read_back(drivers: set[str], since_ms: int, timeout: float) -> set[NoticeId]:
        nonlocal tries
        tries += 1
        raise KafkaError("no broker answers")

    pending = [(_ticket("s-1"), None)]
    owner = _Owner()
    _resend(pending, read_back, owner, give_up_s=0.0).start()
    assert owner.done.wait(10)
    assert owner.sent == pending and owner.marked == []
    assert tries == 1


def test_a_read_back_that_fails_once_is_tried_again() -> None:
    answers: list[set[NoticeId] | Exception] = [KafkaError("leader moving"), {("s-1", False)}]

    def read_back(drivers: set[str], since_ms: int, timeout: float) -> set[NoticeId]:
        answer = answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer

    owner = _Owner()
    _resend([(_ticket("s-1"), None)], read_back, owner).start()
    assert owner.done.wait(10)
    assert owner.sent == [] and owner.marked == [("s-1", False)]


def test_a_central_stopped_meanwhile_sends_nothing() -> None:
    stopped = threading.Event()
    reading = threading.Event()

    def read_back(drivers: set[str], since_ms: int, timeout: float) -> set[NoticeId]:
        reading.set()
        stopped.set()  # the runtime stops while the topic is read
        return set()

    owner = _Owner()
    resend = _resend([(_ticket("s-1"), None)], read_back, owner, stopped)
    resend.start()
    assert resend.thread is not None
    wait_for(lambda: not resend.thread.is_alive(), 10, "the resend thread to end")  # type: ignore[union-attr]
    assert reading.is_set() and not owner.done.is_set()


def test_nothing_to_resend_starts_no_thread() -> None:
    owner = _Owner()
    resend = _resend([], lambda drivers, since_ms, timeout: set(), owner)
    resend.start()
    assert resend.thread is None
