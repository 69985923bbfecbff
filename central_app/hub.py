"""Central's shared state and its outputs: the CP machines, the listeners, the topics.

Everything here runs under one re-entrant lock (``Hub.lock``); the monitor side, the supply
desk and the operator commands all take it, so the machines never see two inputs at once.
Outputs are non-blocking: Kafka sends are queued by the producer, listeners must return fast.
"""

from __future__ import annotations

import logging
import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import replace
from typing import Any, Protocol

from central_app.cp_state import CpMachine
from central_app.store import Store
from central_app.views import CentralListener, CpView, LogEntry, LogLevel, RequestPhase, RequestView
from wire.kafka.messages import CpState, Event
from wire.kafka.topics import Topics
from wire.timefmt import now_ts

log = logging.getLogger(__name__)

MAX_REQUESTS = 500


class Outbox(Protocol):
    def send(self, topic: str, key: str, event: Event) -> None:
        """Queue an event; never raises, never blocks long."""
        ...


class Hub:
    def __init__(
        self,
        store: Store,
        outbox: Outbox,
        topics: Topics,
        *,
        close_connection: Callable[[Any], None] = lambda conn: None,
    ) -> None:
        self.lock = threading.RLock()
        self.store = store
        self.outbox = outbox
        self.topics = topics
        self.close_connection = close_connection
        self.cps: dict[str, CpMachine] = {}
        self.connections: dict[str, Any] = {}  # cp_id -> the monitor's live Connection
        self._listeners: list[CentralListener] = []
        self.requests: OrderedDict[str, RequestView] = OrderedDict()
        self._request_of_session: dict[str, str] = {}

    # --- listeners ------------------------------------------------------------------------

    def add_listener(self, listener: CentralListener) -> None:
        with self.lock:
            self._listeners.append(listener)

    def remove_listener(self, listener: CentralListener) -> None:
        with self.lock:
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

    def cp_changed(self, cp: CpMachine) -> None:
        view = cp.view()
        self._each("cp_changed", view)
        self.publish_state(view)

    def publish_state(self, view: CpView) -> None:
        self.outbox.send(
            self.topics.network_state,
            view.cp_id,
            CpState(
                cp_id=view.cp_id,
                location=view.location,
                x=view.x,
                y=view.y,
                price=view.price,
                status=view.status.value,
                kw=view.kw,
                eur=view.eur,
            ),
        )

    def republish_all(self) -> None:
        """Every CP's state again (after Kafka came back: the compacted topic catches up)."""
        with self.lock:
            for cp in self.cps.values():
                self.publish_state(cp.view())

    def notify_driver(self, driver_id: str, event: Event) -> None:
        self.outbox.send(self.topics.driver_notices, driver_id, event)

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
        with self.lock:
            return [cp.view() for cp in sorted(self.cps.values(), key=lambda c: c.cp_id)]

    def recent_requests(self) -> list[RequestView]:
        with self.lock:
            return list(self.requests.values())

    def driver_busy(self, driver_id: str) -> bool:
        return any(
            cp.session is not None and cp.session.driver_id == driver_id for cp in self.cps.values()
        )

    def find_session(self, session_id: str) -> CpMachine | None:
        for cp in self.cps.values():
            if cp.session is not None and cp.session.session_id == session_id:
                return cp
        return None
