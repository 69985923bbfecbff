"""The charging point status every program shows, as PROTOCOL.md §3 spells it (``cp_state``).

One enum for Central's core and control center, the city map's tiles and the driver's
network view. Dependency-free, so the map widget (``citymap``) can use it without the rest of
``wire``.
"""

from __future__ import annotations

from enum import StrEnum


class CpStatus(StrEnum):
    """SPEC "Charging point states"; the value is the wire spelling."""

    ACTIVE = "ACTIVE"
    STOPPED = "STOPPED"
    SUPPLYING = "SUPPLYING"
    BROKEN = "BROKEN"
    DISCONNECTED = "DISCONNECTED"


class Origin(StrEnum):
    """Where a ``charge_request`` was made: the driver app or the CP's technician panel."""

    APP = "app"
    CP = "cp"


#: The origin of a session no request made: a supply a charger started on its own, with an id
#: it authorized locally while it could not reach Central (an OCPP charger's local list).
#: ``supply_ended`` says so in its ``origin``; Central learns of the session at its end.
OFFLINE_ORIGIN = "offline"
