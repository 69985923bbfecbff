"""What the public page shows of each CP, and the server-sent events that carry it (no I/O).

The page is public, so it shows what a driver's map shows and nothing more: where a CP is,
its price and whether it can be used (``driver_app.network``'s availability, the same words
and the same rule). ``cp_state`` also carries the live kW and € of a running supply; they
describe somebody's charge, so they are dropped here, before anything reaches a browser.
``public_cp`` is the one whitelist of what leaves the server.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from driver_app.network import Availability, CpInfo, NetworkView
from wire.kafka.messages import CpState

__all__ = ["Board", "FeedStatus", "StateLook", "LOOKS", "public_cp", "sse_event"]


@dataclass(frozen=True, slots=True)
class StateLook:
    """How one availability reads on the page: a colour, a text colour that contrasts with
    it (WCAG AA for the label), a symbol so colour is never the only cue, and the words."""

    fill: str
    ink: str
    symbol: str
    label: str


# The driver map's colours (citymap.styles.AvailabilityStyle) where it has them; the public
# page tells out-of-order, broken and offline apart, as the operator's colours do.
LOOKS: dict[Availability, StateLook] = {
    Availability.AVAILABLE: StateLook("#2f9e44", "#ffffff", "✓", Availability.AVAILABLE.label),
    Availability.BUSY: StateLook("#1971c2", "#ffffff", "⚡", Availability.BUSY.label),
    Availability.OUT_OF_ORDER: StateLook(
        "#f59f00", "#212529", "■", Availability.OUT_OF_ORDER.label
    ),
    Availability.BROKEN: StateLook("#e03131", "#ffffff", "✕", Availability.BROKEN.label),
    Availability.OFFLINE: StateLook("#868e96", "#ffffff", "?", Availability.OFFLINE.label),
}


def public_cp(info: CpInfo) -> dict[str, Any]:
    """The JSON of one CP as the page gets it: position, price, availability. Nothing else."""
    availability = info.availability
    return {
        "cp_id": info.cp_id,
        "location": info.location,
        "x": info.x,
        "y": info.y,
        "price": round(info.price, 4),
        "state": availability.value,
        "label": LOOKS[availability].label,
        "updated": info.updated_at,
    }


def sse_event(name: str, data: Any) -> bytes:
    """One server-sent event: ``event: NAME`` and its JSON on one ``data:`` line (compact
    JSON never contains a newline, which would end the event)."""
    body = json.dumps(data, separators=(",", ":"), ensure_ascii=False)
    return f"event: {name}\ndata: {body}\n\n".encode()


@dataclass(frozen=True, slots=True)
class FeedStatus:
    """Whether the page's data is live: ``loaded`` once the topic's replay reached its end,
    ``problem`` in words while Kafka cannot be read (None: fine)."""

    loaded: bool = False
    problem: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {"loaded": self.loaded, "problem": self.problem}


class Board:
    """Every CP's public state, built from ``cp_state`` events in topic order."""

    def __init__(self) -> None:
        self._view = NetworkView()

    def apply(self, event: CpState) -> dict[str, Any] | None:
        """The CP's new public JSON if something the page shows changed, else None (a
        change of kW or € alone changes nothing here)."""
        info = self._view.apply(event)
        return None if info is None else public_cp(info)

    def snapshot(self) -> list[dict[str, Any]]:
        return [public_cp(info) for info in self._view.all()]

    def __len__(self) -> int:
        return len(self._view)
