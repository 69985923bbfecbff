"""The tickets a Central taking office sends again, each once.

A Central may write a ticket and be stopped or deposed before its notice leaves (finding 2
of docs/reliability.md), so the next one sends again the recent tickets whose notices the
brokers never acknowledged (``sessions.notified_at`` empty, finding 6). That mark is written
*after* the acknowledgement, by the Central that sent the notice, and can be missing for a
notice that did leave: in the 60-minute campaign (finding 9) central-b sent a ticket 0.2 s
before central-a took office, and another ticket's Central lost PostgreSQL 0.2 s after
sending it and stepped down; neither mark was ever written (the writer waited out the outage,
then its commit was fenced), and the new active sent both tickets a second time.

So the mark only says which tickets *may* need sending. The topic says which did leave:
after a grace period (a deposed active still sends for up to ``STEP_DOWN_S`` after its last
renewal) the Central reads ``evc.driver.notices`` back for those drivers and sends only what
is not there; what is there is marked on the row. If the brokers cannot be read back in
time the tickets are sent anyway: at least once comes first.

The decision (:func:`split`) is plain Python; :class:`TicketResend` runs the read-back on a
thread of its own, so taking office never waits on it, and hands the result to the owner.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable

from central_app.billing import TicketData
from central_app.leadership import STEP_DOWN_S
from central_app.notice_readback import NoticeId
from wire.errors import KafkaError
from wire.timefmt import parse_ts

log = logging.getLogger(__name__)

#: A ticket to send again, with what it said before an amendment (``sessions.amended_from``).
Pending = tuple[TicketData, str | None]
#: ``(drivers, since_ms, timeout)`` -> the ticket notices to them on the topic since then
#: (ms since the epoch); raises KafkaError.
ReadBack = Callable[[set[str], int, float], set[NoticeId]]

GRACE_S = STEP_DOWN_S + 1.0  # a deposed active's last sends reach the brokers meanwhile
READ_TIMEOUT_S = 10.0  # one read-back
GIVE_UP_S = 60.0  # without a read-back by then, send them all (at least once)
RETRY_S = 2.0
CLOCK_MARGIN_S = 120.0  # the engines', the Centrals' and the brokers' clocks may disagree


def notice_id(pending: Pending) -> NoticeId:
    """The notice ``pending`` would be on the topic: the amended one if it was amended."""
    ticket, amended_from = pending
    return ticket.session_id, amended_from is not None


def read_from_ms(pending: Iterable[Pending], window_start_ms: int) -> int:
    """Where the read-back starts: a notice leaves after its ticket, which follows the
    supply's end, so the earliest end less a margin for the clocks; never before the resend
    window, and the whole window when an end is unreadable. (A Central killed with tickets
    unacknowledged has them from its last seconds: reading the whole window back at 10,000
    CPs would be millions of notices.)"""
    ends: list[float] = []
    for ticket, _ in pending:
        try:
            ends.append(parse_ts(ticket.ended_at).timestamp())
        except ValueError:
            return window_start_ms
    if not ends:
        return window_start_ms
    return max(window_start_ms, int((min(ends) - CLOCK_MARGIN_S) * 1000))


def split(
    pending: Iterable[Pending], on_topic: set[NoticeId]
) -> tuple[list[Pending], list[Pending]]:
    """``(to send, already sent)``: a ticket whose notice is on the topic already left."""
    send: list[Pending] = []
    sent: list[Pending] = []
    for item in pending:
        (sent if notice_id(item) in on_topic else send).append(item)
    return send, sent


class TicketResend:
    """Reads the topic back on the ``central-resend`` thread, then ``post``\\ s to the owner:
    ``send(to_send)`` and ``mark(session_id, amended)`` for each notice found."""

    def __init__(
        self,
        pending: list[Pending],
        *,
        read_back: ReadBack,
        post: Callable[[Callable[[], None]], None],
        send: Callable[[list[Pending]], None],
        mark: Callable[[str, bool], None],
        stopped: threading.Event,
        window_s: float,
        grace_s: float = GRACE_S,
        give_up_s: float = GIVE_UP_S,
        retry_s: float = RETRY_S,
    ) -> None:
        self._pending = pending
        self._read_back = read_back
        self._post = post
        self._send = send
        self._mark = mark
        self._stopped = stopped
        self._window_s = window_s  # how far back tickets are sent again
        self._grace_s = grace_s
        self._give_up_s = give_up_s
        self._retry_s = retry_s
        self.thread: threading.Thread | None = None

    def start(self) -> None:
        if not self._pending:
            return
        self.thread = threading.Thread(target=self._run, name="central-resend", daemon=True)
        self.thread.start()

    def _run(self) -> None:
        if self._stopped.wait(self._grace_s):
            return
        drivers = {ticket.driver_id for ticket, _ in self._pending}
        window_start_ms = int((time.time() - self._window_s) * 1000)
        since_ms = read_from_ms(self._pending, window_start_ms)
        give_up = time.monotonic() + self._give_up_s
        on_topic: set[NoticeId] | None = None
        while on_topic is None:
            try:
                on_topic = self._read_back(drivers, since_ms, READ_TIMEOUT_S)
            except KafkaError as exc:
                if time.monotonic() >= give_up:
                    log.warning(
                        "ticket notices not read back (%s): the %d unacknowledged tickets are "
                        "sent again",
                        exc,
                        len(self._pending),
                    )
                    on_topic = set()
                elif self._stopped.wait(self._retry_s):
                    return
                else:
                    log.info("ticket notices not read back yet: %s", exc)
        if self._stopped.is_set():
            return
        send, sent = split(self._pending, on_topic)
        if sent:
            log.info(
                "%d ticket notices were on the brokers already (their acknowledgement was never "
                "written): not sent again",
                len(sent),
            )

        def finish() -> None:
            for item in sent:
                self._mark(*notice_id(item))
            if send:
                self._send(send)

        self._post(finish)
