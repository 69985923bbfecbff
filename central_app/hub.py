"""Central's state and its outputs: the CP machines, the listeners, the topics.

The hub has one owner: the core thread (``runtime``), which runs the monitors' TCP server,
the desks, the timers and the operator's commands. Nothing here is locked because nothing
here is touched from another thread; other threads *post* work to the owner (``post``) and
get results as events. The database is behind the :class:`~central_app.ledger.Ledger`
(memory now, rows written by the writer thread); ``after`` continues on the owner once a
write is durable. Outputs never block: Kafka sends are queued by the producer, listeners
must return fast (the control center's bridge only stores the latest view).

Per-CP chatter (a monitor authenticated, a link lost) is told one line per CP while it is
rare; in a storm of thousands the same kind of line is folded into one summary a second.
"""

from __future__ import annotations

import logging
import time
from collections import OrderedDict
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import replace
from typing import Any, Protocol, TypeVar

from central_app.counts import CentralCounts
from central_app.cp_state import CpMachine
from central_app.ledger import Ledger
from central_app.network_state import state_of
from central_app.views import (
    CentralListener,
    CpStatus,
    CpView,
    LogEntry,
    LogLevel,
    RequestPhase,
    RequestView,
)
from wire.kafka.messages import Event
from wire.kafka.topics import Topics
from wire.timefmt import now_ts

log = logging.getLogger(__name__)

MAX_REQUESTS = 500
TALLY_FREE = 20  # lines of one kind per second told one by one before they are folded
# A supplying CP's kW and € change every second; on the network topic (maps, dashboards)
# they are published at most this often per CP. Status, price and place go out at once, and
# the driver being served gets every figure in its own notices.
LIVE_STATE_EVERY = 5.0

T = TypeVar("T")


def run_inline(fn: Callable[[], None]) -> None:
    fn()


class Outbox(Protocol):
    def send(
        self, topic: str, key: str, event: Event, on_delivered: Callable[[], None] | None = None
    ) -> None:
        """Queue an event; never raises, never blocks long. ``on_delivered`` is called, from
        any thread, once the brokers have it."""
        ...


class Hub:
    def __init__(
        self,
        ledger: Ledger,
        outbox: Outbox,
        topics: Topics,
        *,
        close_connection: Callable[[Any], None] = lambda conn: None,
        post: Callable[[Callable[[], None]], None] = run_inline,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.ledger = ledger
        self.post = post
        self.clock = clock
        self.outbox = outbox
        self.topics = topics
        self.close_connection = close_connection
        self.counts = CentralCounts()  # the metrics' plain counters (central_app.metrics)
        self.cps: dict[str, CpMachine] = {}
        self.connections: dict[str, Any] = {}  # cp_id -> the monitor's live Connection
        # Kafka values to and from CPs and drivers are sealed (docs/security.md): a driver
        # without a key cannot be served.
        self.sealed = False
        self._listeners: list[CentralListener] = []
        self.requests: OrderedDict[str, RequestView] = OrderedDict()
        self._request_of_session: dict[str, str] = {}
        self._with_session: dict[str, CpMachine] = {}
        self._driver_cps: dict[str, dict[str, CpMachine]] = {}  # driver -> CPs noted for it
        self._tally: dict[str, int] = {}
        self._tally_second = 0
        # cp_id -> (what the last cp_state showed, when); kW/€-only changes waiting their turn
        self._published: dict[str, tuple[tuple[object, ...], float]] = {}
        self._held: dict[str, CpView] = {}

    # --- continuing after a database write ------------------------------------------------

    def after(self, future: Future[T], then: Callable[[Future[T]], None]) -> None:
        """Run ``then(future)`` on the owner once ``future`` is done (at once if it is)."""
        if future.done():
            then(future)
            return
        future.add_done_callback(lambda f: self.post(lambda: then(f)))

    # --- listeners ------------------------------------------------------------------------

    def add_listener(self, listener: CentralListener) -> None:
        self._listeners.append(listener)

    def remove_listener(self, listener: CentralListener) -> None:
        if listener in self._listeners:
            self._listeners.remove(listener)

    def _each(self, method: str, arg: object) -> None:
        for listener in list(self._listeners):
            try:
                getattr(listener, method)(arg)
            except Exception:
                log.exception("listener %r failed in %s", listener, method)

    def emit_links(self, links: object) -> None:
        self._each("links_changed", links)

    # --- outputs --------------------------------------------------------------------------

    def say(self, text: str, level: LogLevel = LogLevel.INFO, source: str = "central") -> None:
        # INFO for all: the listeners (console, control center) are the user-facing channel.
        log.info("[%s] %s: %s", source, level.value, text)
        self._each("logged", LogEntry(text=text, level=level, source=source))

    def tell(
        self, kind: str, text: str, level: LogLevel = LogLevel.INFO, source: str = "central"
    ) -> None:
        """``say`` for per-CP chatter: past ``TALLY_FREE`` lines of one ``kind`` in a second
        the rest are counted and told as one line by ``flush_tally``."""
        second = int(self.clock())
        if second != self._tally_second:
            self.flush_tally()
            self._tally_second = second
        count = self._tally.get(kind, 0) + 1
        self._tally[kind] = count
        if count <= TALLY_FREE:
            self.say(text, level, source)

    def flush_tally(self) -> None:
        folded = {kind: n - TALLY_FREE for kind, n in self._tally.items() if n > TALLY_FREE}
        self._tally.clear()
        for kind, n in folded.items():
            self.say(f"... and {n} more: {kind}")

    def cp_changed(self, cp: CpMachine) -> None:
        view = cp.view()
        # the history's state log keeps real changes only (a dict lookup for the rest)
        self.ledger.states.note(
            cp.cp_id, view.status, cp.fault_reason if view.status is CpStatus.BROKEN else ""
        )
        self._each("cp_changed", view)
        self.publish_state(view, live=True)

    def publish_state(self, view: CpView, *, live: bool = False) -> None:
        """Send ``view`` on the network topic. With ``live`` a change of kW/€ alone waits
        until ``LIVE_STATE_EVERY`` has passed since this CP's last state (``flush_live``
        sends it then): at 2,000 supplies that halves what Central produces."""
        shown = (view.location, view.x, view.y, view.price, view.status, view.kw, view.eur)
        now = self.clock()
        last = self._published.get(view.cp_id)
        if live and last is not None and now - last[1] < LIVE_STATE_EVERY:
            sent = last[0]
            if shown == sent:
                self._held.pop(view.cp_id, None)
                return
            if shown[:5] == sent[:5]:
                self._held[view.cp_id] = view
                return
        self._send_state(view, shown, now)

    def _send_state(self, view: CpView, shown: tuple[object, ...], now: float) -> None:
        self._held.pop(view.cp_id, None)
        self._published[view.cp_id] = (shown, now)
        self.outbox.send(
            self.topics.network_state,
            view.cp_id,
            state_of(view),
        )

    def flush_live(self) -> None:
        """Send the held kW/€ states whose turn has come (the owner calls it every second)."""
        if not self._held:
            return
        now = self.clock()
        published = self._published
        due = [
            view
            for cp_id, view in self._held.items()
            if now - published[cp_id][1] >= LIVE_STATE_EVERY
        ]
        for view in due:
            shown = (view.location, view.x, view.y, view.price, view.status, view.kw, view.eur)
            self._send_state(view, shown, now)

    def republish_all(self) -> None:
        """Every CP's state again (after Kafka came back: the compacted topic catches up)."""
        for cp in self.cps.values():
            self.publish_state(cp.view())

    def notify_driver(
        self, driver_id: str, event: Event, on_delivered: Callable[[], None] | None = None
    ) -> None:
        """Queue a notice for the driver; ``on_delivered`` then runs on the owner once the
        brokers have it."""
        if on_delivered is None:
            self.outbox.send(self.topics.driver_notices, driver_id, event)
            return
        post = self.post
        self.outbox.send(self.topics.driver_notices, driver_id, event, lambda: post(on_delivered))

    def command(self, cp_id: str, event: Event) -> None:
        self.outbox.send(self.topics.cp_commands, cp_id, event)

    def request_update(
        self,
        request_id: str | None,
        *,
        phase: RequestPhase,
        detail: str = "",
        session_id: str | None = None,
        driver_id: str = "",
        cp_id: str = "",
        origin: str = "app",
    ) -> None:
        if request_id is None and session_id is not None:
            request_id = self._request_of_session.get(session_id)
        if request_id is None:
            request_id = f"session {session_id}"
        old = self.requests.get(request_id)
        if old is None:
            view = RequestView(
                request_id=request_id,
                driver_id=driver_id,
                cp_id=cp_id,
                phase=phase,
                detail=detail,
                session_id=session_id,
                origin=origin,
            )
        else:
            view = replace(
                old,
                phase=phase,
                detail=detail,
                session_id=session_id or old.session_id,
                updated_at=now_ts(),
            )
            self.requests.move_to_end(request_id)
        self.requests[request_id] = view
        if session_id is not None:
            self._request_of_session[session_id] = request_id
        while len(self.requests) > MAX_REQUESTS:
            _, dropped = self.requests.popitem(last=False)
            if dropped.session_id:
                self._request_of_session.pop(dropped.session_id, None)
        self._each("request_changed", view)

    # --- queries --------------------------------------------------------------------------

    def snapshot(self) -> list[CpView]:
        return [cp.view() for cp in sorted(self.cps.values(), key=lambda c: c.cp_id)]

    def recent_requests(self) -> list[RequestView]:
        return list(self.requests.values())

    def note_session(self, cp: CpMachine) -> None:
        """``cp`` took a session (authorize, restore, adopt): index it, so the timers and
        the driver check look at the CPs with sessions instead of all 10,000."""
        self._with_session[cp.cp_id] = cp
        if cp.session is not None:
            self._driver_cps.setdefault(cp.session.driver_id, {})[cp.cp_id] = cp

    def sessions(self) -> list[CpMachine]:
        """The CPs that hold a session (entries whose session ended are dropped here)."""
        live = [cp for cp in self._with_session.values() if cp.session is not None]
        if len(live) != len(self._with_session):
            self._with_session = {cp.cp_id: cp for cp in live}
        return live

    def driver_busy(self, driver_id: str) -> bool:
        """Whether ``driver_id`` holds a session: looks only at the CPs noted for that
        driver (one, rarely two), not at every CP with a session."""
        noted = self._driver_cps.get(driver_id)
        if not noted:
            return False
        for cp_id, cp in list(noted.items()):
            if cp.session is not None and cp.session.driver_id == driver_id:
                return True
            del noted[cp_id]
        del self._driver_cps[driver_id]
        return False
