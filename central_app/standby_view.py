"""What a standby Central's control center shows: the network as the active one publishes it.

A standby loads nothing from the database and serves no monitor (``central_app.standby``), so
its window cannot be fed by the core. :class:`StandbyView` is a read-only ``CentralControls``
fed instead from Kafka: the compacted ``evc.network.state`` (every CP's last ``cp_state``)
and ``central_alive`` (which Central of the pair is active). The window draws it like the
live one; every operator command raises :class:`ReadOnly` (the window also disables them),
since only the active Central may change the network. Plain Python: the Kafka reading is
:class:`central_app.standby_feed.StandbyFeed`, the drawing is Qt's.
"""

from __future__ import annotations

import threading

from central_app.network_state import view_of
from central_app.views import CentralListener, CpView, LinkStatus
from wire.kafka.messages import CentralAlive, CpState, Event

__all__ = ["ReadOnly", "StandbyView", "banner_of"]


class ReadOnly(RuntimeError):
    """An operator command reached a standby, which changes nothing."""


def banner_of(links: LinkStatus) -> str | None:
    """The window's banner for a standby ("Standby of central-a — read-only"), else None."""
    if links.role != "standby":
        return None
    return f"Standby of {links.active_id or 'the active Central'} — read-only"


class StandbyView:
    """The network as published, for listeners; ``on_event`` is called from the feed's thread."""

    def __init__(self, central_id: str, *, kafka_up: bool = False) -> None:
        self.central_id = central_id
        self._lock = threading.Lock()
        self._cps: dict[str, CpView] = {}
        self._listeners: list[CentralListener] = []
        self._links = LinkStatus(
            kafka_up=kafka_up, database_ok=True, central_id=central_id, role="standby"
        )

    # --- fed by the Kafka side ------------------------------------------------------------------

    def on_event(self, event: Event) -> None:
        if isinstance(event, CpState):
            cp = view_of(event)
            with self._lock:
                self._cps[cp.cp_id] = cp
                listeners = list(self._listeners)
            for listener in listeners:
                listener.cp_changed(cp)
        elif (
            isinstance(event, CentralAlive)
            and event.serving
            and event.central_id != self.central_id
        ):
            self._set_links(active_id=event.central_id, kafka_up=True)

    def set_kafka_up(self, up: bool) -> None:
        if up != self._links.kafka_up:
            self._set_links(kafka_up=up)

    def _set_links(self, **changes: object) -> None:
        with self._lock:
            fields = {name: getattr(self._links, name) for name in LinkStatus.__dataclass_fields__}
            self._links = LinkStatus(**{**fields, **changes})  # type: ignore[arg-type]
            links, listeners = self._links, list(self._listeners)
        for listener in listeners:
            listener.links_changed(links)

    # --- CentralControls -------------------------------------------------------------------------

    def snapshot(self) -> list[CpView]:
        with self._lock:
            return sorted(self._cps.values(), key=lambda cp: cp.cp_id)

    def links(self) -> LinkStatus:
        return self._links

    def add_listener(self, listener: CentralListener) -> None:
        with self._lock:
            self._listeners.append(listener)

    def remove_listener(self, listener: CentralListener) -> None:
        with self._lock:
            if listener in self._listeners:
                self._listeners.remove(listener)

    def _refuse(self, *_args: object) -> None:
        raise ReadOnly(banner_of(self._links) or "standby Central: read-only")

    stop_cp = resume_cp = revoke_cp = set_price = _refuse

    def stop_all(self) -> None:
        self._refuse()

    def resume_all(self) -> None:
        self._refuse()
