"""The driver's view of the network, built from ``evc.network.state`` (``cp_state`` events).

Every CP's position, price and availability. Other drivers' live kW and € travel on that
topic too; the driver app deliberately drops them (it shows only availability), so a driver
never sees anything about someone else's supply.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from wire.kafka.messages import CpState
from wire.states import CpStatus


class Availability(StrEnum):
    """What a CP's status means for a driver looking for a charge."""

    AVAILABLE = "available"  # ACTIVE
    BUSY = "busy"  # SUPPLYING: someone is charging there
    OUT_OF_ORDER = "out_of_order"  # STOPPED by Central
    BROKEN = "broken"  # BROKEN
    OFFLINE = "offline"  # DISCONNECTED, or a status this version does not know

    @property
    def label(self) -> str:
        return _LABELS[self]


_LABELS = {
    Availability.AVAILABLE: "Available",
    Availability.BUSY: "In use",
    Availability.OUT_OF_ORDER: "Out of order",
    Availability.BROKEN: "Broken",
    Availability.OFFLINE: "Offline",
}

_BY_STATUS = {
    CpStatus.ACTIVE: Availability.AVAILABLE,
    CpStatus.SUPPLYING: Availability.BUSY,
    CpStatus.STOPPED: Availability.OUT_OF_ORDER,
    CpStatus.BROKEN: Availability.BROKEN,
    CpStatus.DISCONNECTED: Availability.OFFLINE,
}


def availability_of(status: str) -> Availability:
    """What a status means for a driver (a status this version does not know: offline)."""
    try:
        return _BY_STATUS[CpStatus(status.upper())]
    except ValueError:
        return Availability.OFFLINE


@dataclass(frozen=True, slots=True)
class CpInfo:
    cp_id: str
    location: str
    x: float | None
    y: float | None
    price: float  # EUR/kWh
    status: str  # the wire status, kept for tooltips
    updated_at: str

    @property
    def availability(self) -> Availability:
        return availability_of(self.status)

    @property
    def available(self) -> bool:
        return self.availability is Availability.AVAILABLE

    @classmethod
    def from_event(cls, event: CpState) -> CpInfo:
        return cls(
            cp_id=event.cp_id,
            location=event.location,
            x=event.x,
            y=event.y,
            price=event.price,
            status=event.status.upper(),
            updated_at=event.ts,
        )


class NetworkView:
    """CP id → latest ``CpInfo``. Apply events in topic order; equal updates are no-ops."""

    def __init__(self) -> None:
        self._cps: dict[str, CpInfo] = {}

    def apply(self, event: CpState) -> CpInfo | None:
        """Returns the new info if something a driver sees changed, else None."""
        info = CpInfo.from_event(event)
        old = self._cps.get(info.cp_id)
        if old is not None and _same(old, info):
            return None
        self._cps[info.cp_id] = info
        return info

    def get(self, cp_id: str) -> CpInfo | None:
        return self._cps.get(cp_id)

    def knows(self, cp_id: str) -> bool:
        return cp_id in self._cps

    def __len__(self) -> int:
        return len(self._cps)

    def all(self) -> list[CpInfo]:
        return sorted(self._cps.values(), key=lambda cp: cp.cp_id)


def _same(a: CpInfo, b: CpInfo) -> bool:
    return (a.location, a.x, a.y, a.price, a.status) == (b.location, b.x, b.y, b.price, b.status)
