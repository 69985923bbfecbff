"""Engine events about sessions the core no longer holds in memory, answered by the database.

The core keeps only live and recent sessions (:mod:`central_app.session_notes`). An event
for an older one (a ``supply_ended`` replayed after a long outage, the engine's late final
reading of an inferred ticket) or for one Central never authorized (refused: a forgery or a
broken engine) cannot be told apart in memory. The owner must not wait on the database, so
the session is looked up on the writer's thread and the event handled on the owner when the
answer comes (``Hub.after``); its note stays in memory for a while, as a recent one's.

The Kafka batch that carried such an event is not done when its handler returns: its
offsets may be stored only once the event was handled and its writes committed
(``central_app.kafka_input``). :meth:`SessionRecall.settled` is the future for that. A
refusal costs an audit row anyway, so a forger naming random sessions does not change what
an event costs the database by an order.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from concurrent.futures import Future

from central_app.hub import Hub
from central_app.session_notes import SessionNote

log = logging.getLogger(__name__)


def _done() -> Future[None]:
    future: Future[None] = Future()
    future.set_result(None)
    return future


class SessionRecall:
    def __init__(self, hub: Hub) -> None:
        self.hub = hub
        self._waiting = 0
        self._settled = _done()
        # a look-up failed since the last time none waited: ``_settled`` is never done then
        self._stuck = False

    def look_up(self, session_id: str, then: Callable[[], None]) -> None:
        """Read ``session_id`` from the database off the owner, keep its note, then run
        ``then`` on the owner (at once when the writer answers at once: unit tests). What
        ``then`` raises reaches the caller only in that case; otherwise the owner logs it."""
        if self._waiting == 0:
            self._settled, self._stuck = Future(), False
        self._waiting += 1
        found = self.hub.ledger.look_up(session_id)
        self.hub.after(found, lambda f: self._answered(session_id, f, then))

    def _answered(
        self, session_id: str, found: Future[SessionNote | None], then: Callable[[], None]
    ) -> None:
        try:
            exc = found.exception()
            if exc is not None:
                # Not an outage (the writer retries those): Central stopping, or a bug. The
                # event is left unhandled and its batch never marked done, so it is read
                # again at the next start rather than refused or billed on a guess.
                log.error("looking up session %s failed (%s); its event waits", session_id, exc)
                self._stuck = True
                return
            self.hub.ledger.recalled(session_id, found.result())
            then()
        finally:
            self._waiting -= 1
            if self._waiting == 0 and not self._stuck:
                self._settled.set_result(None)

    @property
    def waiting(self) -> int:
        """Events waiting for the database's answer."""
        return self._waiting

    def settled(self) -> Future[None]:
        """Done once every event looked up so far was handled (from any thread: one
        attribute read; a later look-up may keep it open longer, never shorter)."""
        return self._settled
