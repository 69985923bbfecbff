"""Issue 19, defect 2: Central bills only energy a charger could have delivered. The rule is
a pure function (central_app.energy_check); the desk refuses an impossible reading for
billing, audits and shows it, and tickets the session with its last plausible reading,
flagged for the operator (``evc-admin sessions --flagged``)."""

from __future__ import annotations

import json
from datetime import timedelta

from central_app import admin
from central_app.energy_check import EnergyCheck
from tests.central.test_supplies import online, start_supply, supply_ended
from tests.central.test_supplies import world as world  # noqa: F401 (the fixture)
from wire.kafka.messages import SupplyProgress
from wire.timefmt import format_ts, utc_now

NOW = utc_now()


def _ago(seconds: float) -> str:
    return format_ts(NOW - timedelta(seconds=seconds))


def test_the_rule_sign_monotony_and_rated_power() -> None:
    check = EnergyCheck(default_rated_kw=22.0)
    ok = dict(last_kwh=0.0, authorized_at=_ago(3600), now=NOW, rated_kw=None)
    assert check.problem(22.0, **ok) is None  # an hour at 22 kW
    assert check.problem(23.1, **ok) is None  # within the margin (5 % and 5 s: 23.13)
    assert "more than a 22 kW charger" in check.problem(30.0, **ok)  # type: ignore[operator]
    assert "negative" in check.problem(-0.1, **ok)  # type: ignore[operator]
    went_down = check.problem(1.0, **{**ok, "last_kwh": 2.0})
    assert went_down == "energy went down from 2.000 to 1.000 kWh"
    assert check.problem(1.999, **{**ok, "last_kwh": 2.0}) is None  # rounding
    # 9999 kWh three seconds after authorization, whatever the rating
    fast = dict(last_kwh=0.0, authorized_at=_ago(3), now=NOW, rated_kw=350.0)
    assert check.problem(9999.0, **fast) is not None
    assert check.problem(0.5, **fast) is None  # 350 kW over 3 s + slack
    # the CP's own rating wins over the default; no rating at all: sign and monotony only
    assert check.problem(30.0, **{**ok, "rated_kw": 50.0}) is None
    assert EnergyCheck(default_rated_kw=None).problem(9999.0, **ok) is None


def test_an_implausible_reading_is_not_billed_and_the_session_is_flagged(
    world, tmp_path, capsys
) -> None:  # type: ignore[no-untyped-def]
    hub, desk, monitors, outbox, topics, clock, store = world
    recorder = hub._listeners[0]
    online(monitors, "CP-01")
    hub.cps["CP-01"].rated_kw = 22.0
    auth = start_supply(desk, outbox, topics)
    sid = auth.session_id

    def progress(seq: int, kwh: float) -> None:
        desk.cp_event(
            SupplyProgress(
                session_id=sid, cp_id="CP-01", driver_id="D-001", seq=seq, kw=22, kwh=kwh, eur=0
            )
        )

    progress(1, 0.012)
    assert hub.cps["CP-01"].session.kwh == 0.012  # type: ignore[union-attr]
    progress(2, 9999.0)  # 9999 kWh seconds after authorization
    progress(3, 0.004)  # and then backwards
    progress(4, -1.0)
    session = hub.cps["CP-01"].session
    assert session is not None and session.kwh == 0.012 and session.flag
    notices = [e for t, k, e in outbox.sent if t == topics.driver_notices]
    assert all(getattr(e, "kwh", 0) < 1 for e in notices)  # the driver never saw 9999
    audited = [a for a in store.audit_entries(20) if a[2] == "implausible_energy"]
    assert len(audited) == 1 and audited[0][1] == "cp:CP-01"  # once per session
    assert "more than a 22 kW charger" in audited[0][3]
    assert any("implausible" in e.text and e.source == "CP-01" for e in recorder.logs)

    desk.cp_event(supply_ended(sid, 9999.0, eur=4199.58, ended_at=format_ts(utc_now())))
    (ticket,) = store.tickets(sid)
    assert ticket.kwh == 0.012 and ticket.eur == round(0.012 * auth.price, 2)
    assert ticket.flag and "implausible" in ticket.flag
    sent = [e for t, k, e in outbox.sent if t == topics.driver_notices and e.TYPE == "ticket"]
    assert sent[-1].kwh == 0.012  # type: ignore[attr-defined]

    assert admin.main(["--db", store.db.url, "sessions", "--flagged", "--format", "json"]) == 0
    (row,) = json.loads(capsys.readouterr().out)
    assert row["session_id"] == sid and row["kwh"] == 0.012 and "implausible" in row["flag"]


def test_a_plausible_final_reading_is_billed_as_sent(world) -> None:  # type: ignore[no-untyped-def]
    hub, desk, monitors, outbox, topics, clock, store = world
    online(monitors, "CP-01")
    hub.cps["CP-01"].rated_kw = 22.0
    auth = start_supply(desk, outbox, topics)
    desk.cp_event(supply_ended(auth.session_id, 0.02, eur=0.01))
    (ticket,) = store.tickets(auth.session_id)
    assert ticket.kwh == 0.02 and ticket.flag is None
