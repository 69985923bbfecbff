"""``RegistryRefresh``: every few seconds, the CPs, drivers, prices and credentials changed
with ``evc-admin`` taken into the owner's state (read on the writer's thread only when the
audit log has a new row: ``Ledger.read_registry``)."""

from __future__ import annotations

from concurrent.futures import Future

from central_app.hub import Hub
from central_app.monitors import MonitorDesk, machine_from
from central_app.store import CpRecord
from central_app.views import LogLevel

REFRESH_SECONDS = 5.0

Registry = tuple[int, list[CpRecord], dict[str, str | None]]


class RegistryRefresh:
    def __init__(self, hub: Hub, monitors: MonitorDesk) -> None:
        self._hub = hub
        self._monitors = monitors

    def refresh(self) -> None:
        """On the owner: read the registry behind, apply it when it comes back."""
        ledger = self._hub.ledger
        generation = ledger.generation
        self._hub.after(ledger.read_registry(), lambda done: self._apply(done, generation))

    def _apply(self, done: Future[Registry | None], generation: int) -> None:
        hub = self._hub
        if done.exception() is not None or done.result() is None:
            return  # the writer said so already / nothing changed
        mark, records, drivers = done.result()  # type: ignore[misc]
        ledger = hub.ledger
        keys_before = {cp_id: ledger.cp_key(cp_id) for cp_id in hub.connections}
        if not ledger.apply_registry(records, drivers, generation):
            return  # read before a change made here; the next refresh is current
        ledger.registry_mark = mark
        for cp_id, before in keys_before.items():
            # evc-admin revoked (or reset) the credential, or rotated the key: the live
            # connection goes; the monitor must REGISTER again, or AUTH for the new key.
            if not ledger.can_authenticate(cp_id):
                if self._monitors.drop(cp_id, "credential revoked by the administrator"):
                    hub.say(
                        "credential revoked by the administrator: connection closed",
                        LogLevel.WARNING,
                        cp_id,
                    )
            elif ledger.cp_key(cp_id) != before and self._monitors.drop(cp_id, "key rotated"):
                hub.say(
                    "key rotated by the administrator: connection closed, the monitor "
                    "gets the new key at its next AUTH",
                    source=cp_id,
                )
        for record in records:
            cp = hub.cps.get(record.cp_id)
            if cp is not None:
                cp.rated_kw = record.rated_kw
            if cp is None:
                cp = machine_from(record)
                hub.cps[cp.cp_id] = cp
                hub.tell(
                    "CPs added by the administrator", "added by the administrator", source=cp.cp_id
                )
                hub.cp_changed(cp)
            elif cp.price != record.price:
                cp.price = record.price
                hub.say(f"price is now {record.price:.2f} EUR/kWh", source=cp.cp_id)
                hub.cp_changed(cp)
