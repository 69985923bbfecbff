"""A CP on ``evc.network.state``: the ``CpState`` Central publishes for its view of a CP
(``state_of``), and the view a standby Central shows for a published one (``view_of``). The
two directions live together so that what one writes the other reads."""

from __future__ import annotations

from central_app.views import CpStatus, CpView
from wire.kafka.messages import CpState

__all__ = ["state_of", "view_of"]


def state_of(view: CpView) -> CpState:
    """What Central publishes for ``view``: place, price, state and the running kW and €."""
    return CpState(
        cp_id=view.cp_id,
        location=view.location,
        x=view.x,
        y=view.y,
        price=view.price,
        status=view.status.value,
        kw=view.kw,
        eur=view.eur,
    )


def view_of(event: CpState) -> CpView:
    """The view of a published CP (a status this Central does not know reads DISCONNECTED)."""
    try:
        status = CpStatus(event.status.upper())
    except ValueError:
        status = CpStatus.DISCONNECTED
    return CpView(
        cp_id=event.cp_id,
        location=event.location,
        x=event.x,
        y=event.y,
        price=event.price,
        status=status,
        kw=event.kw,
        # cp_state carries € but not kWh; € = kWh × price, so the meter is that to ~0.01 kWh
        # (better than a 0.00 beside a running amount)
        kwh=round(event.eur / event.price, 2) if event.price > 0 else 0.0,
        eur=event.eur,
        updated_at=event.ts,
    )
