"""``OperatorControls``: what the operator's views (the control center, the console, tests)
call on a running Central — ``CentralControls`` (``central_app.views``).

Stop/Resume, Revoke and a price are posted to the owner and return at once with a future
(done once applied there: machines changed, commands queued for the engines), so the GUI
thread never waits for a busy owner; a later call (``snapshot``) runs after them, in order.
Queries run on the owner and return copies; history queries and enrollment tokens never
touch the owner (they are the database's)."""

from __future__ import annotations

import threading
from collections import Counter
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FutureTimeout

from central_app.cp_state import CpMachine
from central_app.db import Database
from central_app.db_writer import DbWriter
from central_app.history import History
from central_app.hub import Hub
from central_app.monitors import MonitorDesk
from central_app.owner import CALL_TIMEOUT, Owner
from central_app.pulse import Pulse
from central_app.store import CP_ID, RegistryError, Store
from central_app.supplies import SupplyDesk
from central_app.views import CentralListener, CpStatus, CpView, LinkStatus, RequestView
from wire.kafka.messages import Resume, Stop
from wire.tcp_messages import AdminState


class OperatorControls:
    """The facade; the runtime fills in the parts as it starts (None until then)."""

    def __init__(self) -> None:
        self.owner = Owner()
        self.db: Database | None = None
        self.writer: DbWriter | None = None
        self.hub: Hub | None = None
        self.supplies: SupplyDesk | None = None
        self.monitors: MonitorDesk | None = None
        self.pulse: Pulse | None = None
        self._stop = threading.Event()
        self._pending_listeners: list[CentralListener] = []

    # --- queries (on the owner, copies back) -----------------------------------------------

    def snapshot(self) -> list[CpView]:
        return self.owner.call(self.hub.snapshot) if self.hub else []

    def status_counts(self) -> Counter[CpStatus]:
        """How many CPs are in each status (the console's status line)."""
        if self.hub is None:
            return Counter()
        hub = self.hub
        return self.owner.call(lambda: Counter(cp.status for cp in hub.cps.values()))

    def recent_requests(self) -> list[RequestView]:
        return self.owner.call(self.hub.recent_requests) if self.hub else []

    def links(self) -> LinkStatus | None:
        return self.pulse.links if self.pulse is not None else None

    def add_listener(self, listener: CentralListener) -> None:
        if self.hub is None:
            self._pending_listeners.append(listener)
        else:
            self.owner.call(self.hub.add_listener, listener)

    def remove_listener(self, listener: CentralListener) -> None:
        if self.hub is not None and not self._stop.is_set():
            self.owner.call(self.hub.remove_listener, listener)

    def history(self) -> History | None:
        """Read-only queries on this Central's database for the control center (they run on
        the caller's thread, never on the owner)."""
        return History(self.db) if self.db is not None else None

    # --- commands (posted: a future, at once) ------------------------------------------------

    def stop_cp(self, cp_id: str) -> Future[None]:
        return self.owner.submit(self._set_admin, [cp_id], AdminState.STOPPED)

    def resume_cp(self, cp_id: str) -> Future[None]:
        return self.owner.submit(self._set_admin, [cp_id], AdminState.ACTIVE)

    def stop_all(self) -> Future[None]:
        return self.owner.submit(self._set_admin, None, AdminState.STOPPED)

    def resume_all(self) -> Future[None]:
        return self.owner.submit(self._set_admin, None, AdminState.ACTIVE)

    def set_price(self, cp_id: str, price: float) -> Future[None]:
        """The operator's new price for a CP (audited): posted like Stop (applied on the owner,
        the row behind); new authorizations use it, a running supply keeps its price."""
        if not 0 < price < 100:
            raise ValueError(f"price must be between 0 and 100 EUR/kWh, got {price}")
        return self.owner.submit(self._set_price, cp_id, price)

    def revoke_cp(self, cp_id: str) -> Future[None]:
        """Revoke the CP's credential and key (docs/security.md, layer 5); posted to the
        owner like Stop."""
        assert self.monitors is not None
        return self.owner.submit(self.monitors.revoke, cp_id, "operator")

    def enroll_cp(self, cp_id: str, ttl_s: float) -> tuple[str, str]:
        """The operator's one-time enrollment token for ``cp_id`` (docs/security.md,
        "Enrollment"), written on the database writer's thread, never the owner's."""
        if not CP_ID.match(cp_id):
            raise RegistryError(f"not a charging point id: {cp_id!r}")
        if self.writer is None or self.db is None:
            raise RegistryError("Central is not running")
        store = Store(self.db)
        issued = self.writer.submit(store.issue_enrollment, cp_id, "operator", ttl_s)
        try:
            return issued.result(timeout=CALL_TIMEOUT)
        except FutureTimeout:
            raise RegistryError(
                f"the database did not answer within {CALL_TIMEOUT:.0f} s; try again"
            ) from None

    # --- on the owner ----------------------------------------------------------------------

    def _set_price(self, cp_id: str, price: float) -> None:
        hub = self.hub
        assert hub is not None
        cp = hub.cps.get(cp_id)
        if cp is None:
            raise RegistryError(f"no charging point {cp_id}")
        if cp.price == price:
            return
        hub.ledger.set_price(cp_id, price, "operator")
        cp.price = price
        hub.say(f"price set to {price:.2f} EUR/kWh by the operator", source=cp_id)
        hub.cp_changed(cp)

    def _set_admin(self, cp_ids: list[str] | None, state: AdminState) -> None:
        """Stop/Resume on the owner: machines and engines at once, the row behind."""
        hub, supplies = self.hub, self.supplies
        assert hub is not None and supplies is not None
        stopping = state is AdminState.STOPPED
        ids = list(hub.cps) if cp_ids is None else cp_ids
        targets: list[CpMachine] = [
            hub.cps[i] for i in ids if i in hub.cps and hub.cps[i].admin is not state
        ]
        if not targets:
            return
        hub.ledger.set_admin_state([cp.cp_id for cp in targets], state.value, "operator")
        for cp in targets:
            transition = cp.stop() if stopping else cp.resume()
            hub.command(cp.cp_id, Stop(cp_id=cp.cp_id) if stopping else Resume(cp_id=cp.cp_id))
            supplies.apply(cp, transition)
            if cp_ids is not None:
                hub.say(
                    "STOP by the operator" if stopping else "RESUME by the operator",
                    source=cp.cp_id,
                )
            hub.cp_changed(cp)
        if cp_ids is None:
            hub.say(f"{'STOP' if stopping else 'RESUME'} ALL by the operator ({len(targets)} CPs)")
