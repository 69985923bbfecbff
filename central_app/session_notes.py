"""What the core remembers of sessions, in memory, and for how long.

The core answers the events of a session without reading the database: who it belongs to
(the ownership check of every engine event), whether it is ticketed already (a redelivered
``supply_ended``), whether its ticket is Central's inference (an amendment), whether a charge
request was already authorized (a redelivered request). It used to keep a note of every
session of the last day: at ~400 sessions a minute Central's memory grew with every session
(the 2-hour soak: +1.1 KB per session, +7 % in half an hour). So a note is kept only while it
is likely to be needed:

- an open session's (authorized, supplying) until it ends, whatever its age;
- a provisional ticket's (Central's inference, which the engine's late final reading amends)
  for ``PROVISIONAL_KEPT`` after the ticket;
- any other ended session's for ``FINAL_KEPT`` after it ended: redeliveries and duplicates
  come within seconds, a replay after an outage within minutes.

The rare event about an older session is answered by the database, off the owner thread
(:meth:`central_app.ledger.Ledger.look_up`), and its note comes back here for a while.
``MAX_NOTES`` is a safety net against notes that never end (the oldest go first; the
database answers for them too).

A redelivered charge request needs no note past ``FINAL_KEPT``: a request older than
``AuthorizationPolicy.max_request_age`` is denied as expired, and its timestamp does not
change when it is redelivered, so a request authorized once can never pass again once it is
older than that (``central_app.supplies`` checks that ``FINAL_KEPT`` covers it).

Owner thread only; the clock is monotonic (injected by tests).
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

#: s an ended session's note is kept after it ended
FINAL_KEPT = 600.0
#: s a provisional ticket's note is kept for its amendment
PROVISIONAL_KEPT = 86_400.0
#: notes kept at most, whatever their state (oldest first out)
MAX_NOTES = 200_000

OPEN = ("authorized", "supplying")


@dataclass(slots=True)
class SessionNote:
    """The little the core needs to know of a session that is not on a CP any more."""

    cp_id: str
    driver_id: str
    request_id: str | None
    price: float | None
    status: str
    provisional: bool = False  # its ticket is Central's inference (billing.ticket_from_session)

    @property
    def ended(self) -> bool:
        return self.status not in OPEN


class SessionNotes:
    """session_id -> note, with the ids of the requests they answered; ended notes expire."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._notes: dict[str, SessionNote] = {}
        self._requests: set[str] = set()
        # (when to forget, session_id) in the order they ended; one queue per lifetime, so
        # each is in deadline order. An entry is only a candidate: the note is dropped when
        # its deadline comes only if it is still of that kind (ended, provisional or not).
        # A note that ended twice (an expired authorization whose supply started late) may
        # go at its first deadline; the database answers for it then.
        self._final: deque[tuple[float, str]] = deque()
        self._provisional: deque[tuple[float, str]] = deque()

    def __len__(self) -> int:
        return len(self._notes)

    @property
    def request_count(self) -> int:
        return len(self._requests)

    def get(self, session_id: str) -> SessionNote | None:
        return self._notes.get(session_id)

    def request_seen(self, request_id: str) -> bool:
        return request_id in self._requests

    def add(self, session_id: str, note: SessionNote) -> None:
        """Remember a session (new, loaded at start, or looked up in the database)."""
        self.expire()
        if session_id not in self._notes and len(self._notes) >= MAX_NOTES:
            self._drop(next(iter(self._notes)))
        self._notes[session_id] = note
        if note.request_id:
            self._requests.add(note.request_id)
        if note.ended:
            self.ended(session_id, note)

    def ended(self, session_id: str, note: SessionNote) -> None:
        """``note`` ended (or stopped being provisional): it is forgotten after its time."""
        now = self._clock()
        if note.provisional:
            self._provisional.append((now + PROVISIONAL_KEPT, session_id))
        else:
            self._final.append((now + FINAL_KEPT, session_id))

    def expire(self) -> None:
        """Forget the ended notes whose time is up (cheap: looks at the queues' heads)."""
        now = self._clock()
        for queue, provisional in ((self._final, False), (self._provisional, True)):
            while queue and queue[0][0] <= now:
                _, session_id = queue.popleft()
                note = self._notes.get(session_id)
                if note is not None and note.ended and note.provisional == provisional:
                    self._drop(session_id)

    def _drop(self, session_id: str) -> None:
        note = self._notes.pop(session_id)
        if note.request_id:
            self._requests.discard(note.request_id)
