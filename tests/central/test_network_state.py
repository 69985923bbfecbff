"""A CP on ``evc.network.state`` (``central_app.network_state``): what the active Central
publishes for a CP is what a standby shows for it."""

from __future__ import annotations

import pytest

from central_app.gui.demo import seeded_cps
from central_app.network_state import state_of, view_of
from central_app.views import CpStatus, CpView
from wire.kafka.messages import NETWORK_STATE, CpState


@pytest.mark.parametrize("cp", seeded_cps(), ids=lambda cp: cp.cp_id)
def test_a_published_cp_reads_back_as_it_was_published(cp: CpView) -> None:
    sent = state_of(cp)
    published = NETWORK_STATE.parse(sent.to_json())  # through the wire, as a standby reads it
    assert isinstance(published, CpState)
    shown = view_of(published)
    assert (shown.cp_id, shown.location, shown.x, shown.y) == (cp.cp_id, cp.location, cp.x, cp.y)
    assert (shown.price, shown.status, shown.kw, shown.eur) == (cp.price, cp.status, cp.kw, cp.eur)
    assert shown.kwh == (round(cp.eur / cp.price, 2) if cp.price > 0 else 0.0)
    assert shown.updated_at == sent.ts


def test_a_status_this_central_does_not_know_reads_disconnected() -> None:
    state = CpState(cp_id="CP-9", location="X", x=None, y=None, price=0.0, status="melting")
    assert view_of(state).status is CpStatus.DISCONNECTED
    assert view_of(state).kwh == 0.0  # no price: no meter from the €
