"""The CP state machine, transition by transition."""

from __future__ import annotations

import pytest

from central_app.cp_state import (
    AuthorizationCancelled,
    CpMachine,
    CpSession,
    EndReason,
    SessionPhase,
    SupplyInterrupted,
)
from central_app.views import CpStatus
from wire.tcp_messages import AdminState, EngineHealth

A, S, SUP, B, D = (
    CpStatus.ACTIVE,
    CpStatus.STOPPED,
    CpStatus.SUPPLYING,
    CpStatus.BROKEN,
    CpStatus.DISCONNECTED,
)


def session(sid: str = "s1", driver: str = "D-001") -> CpSession:
    return CpSession(
        session_id=sid, driver_id=driver, price=0.4, expires_at="2030-01-01T00:00:00.000Z"
    )


def online(engine: EngineHealth = EngineHealth.OK) -> CpMachine:
    cp = CpMachine("CP-01", "Old Town", 1.0, 2.0, 0.4)
    cp.authenticate()
    cp.heartbeat(engine)
    return cp


def supplying() -> CpMachine:
    cp = online()
    cp.authorize(session())
    cp.supply_started("s1", "2026-01-01T00:00:00.000Z", now=1.0)
    return cp


def test_starts_disconnected_and_auth_makes_it_active() -> None:
    cp = CpMachine("CP-01")
    assert cp.status is D
    t = cp.authenticate()
    assert (t.before, t.after, t.effects) == (D, A, ())


def test_stopped_cp_authenticates_as_stopped() -> None:
    cp = CpMachine("CP-01", admin=AdminState.STOPPED)
    assert cp.authenticate().after is S


@pytest.mark.parametrize("engine", [EngineHealth.KO, EngineHealth.UNREACHABLE])
def test_heartbeat_with_bad_engine_is_broken_and_ok_recovers(engine: EngineHealth) -> None:
    cp = online()
    t = cp.heartbeat(engine)
    assert (t.before, t.after) == (A, B)
    t = cp.heartbeat(EngineHealth.OK)
    assert (t.before, t.after) == (B, A)


def test_fault_and_recovered() -> None:
    cp = online()
    assert cp.fault("overheating").after is B
    assert cp.fault_reason == "overheating"
    assert cp.recovered().after is A
    assert cp.fault_reason == ""


def test_link_lost_from_any_state_is_disconnected() -> None:
    for cp in (online(), online(EngineHealth.KO)):
        t = cp.link_lost()
        assert t.after is D
        assert cp.engine is None


def test_stop_and_resume() -> None:
    cp = online()
    assert cp.stop().after is S
    assert cp.resume().after is A


def test_broken_beats_stopped_and_disconnected_beats_all() -> None:
    cp = online()
    cp.stop()
    assert cp.fault("x").after is B
    assert cp.link_lost().after is D


def test_authorize_keeps_active_but_not_available() -> None:
    cp = online()
    t = cp.authorize(session())
    assert (t.before, t.after) == (A, A)
    assert not cp.available
    with pytest.raises(ValueError):
        cp.authorize(session("s2"))


@pytest.mark.parametrize("status_maker", ["stopped", "broken", "disconnected"])
def test_authorize_refused_unless_active(status_maker: str) -> None:
    cp = online()
    {"stopped": cp.stop, "broken": lambda: cp.fault("x"), "disconnected": cp.link_lost}[
        status_maker
    ]()
    with pytest.raises(ValueError):
        cp.authorize(session())


def test_supply_started_makes_supplying_and_progress_is_kept() -> None:
    cp = online()
    cp.authorize(session())
    t = cp.supply_started("s1", "2026-01-01T00:00:00.000Z", now=1.0)
    assert (t.before, t.after) == (A, SUP)
    assert cp.supply_progress("s1", 0, 7.2, 0.002, 0.0, now=2.0).accepted
    assert not cp.supply_progress("s1", 0, 9.9, 0.001, 0.0, now=2.0).accepted  # redelivered
    assert cp.session is not None and cp.session.kwh == 0.002
    assert cp.view().kw == 7.2


def test_events_of_other_sessions_are_not_accepted() -> None:
    cp = supplying()
    assert not cp.supply_started("other", "t", now=1.0).accepted
    assert not cp.supply_progress("other", 5, 1, 1, 1, now=1.0).accepted
    t, s = cp.end_session("other")
    assert not t.accepted and s is None
    assert cp.status is SUP


def test_supply_ended_returns_to_active() -> None:
    cp = supplying()
    t, s = cp.end_session("s1")
    assert (t.before, t.after) == (SUP, A)
    assert s is not None and s.session_id == "s1"


def test_authorization_expired_frees_the_cp() -> None:
    cp = online()
    cp.authorize(session())
    t, s = cp.end_session("s1")
    assert s is not None and s.phase is SessionPhase.AUTHORIZED
    assert cp.available and t.after is A


@pytest.mark.parametrize(
    ("action", "status", "reason"),
    [
        ("stop", S, EndReason.STOPPED),
        ("fault", B, EndReason.FAULT),
        ("unreachable", B, EndReason.FAULT),
        ("lost", D, EndReason.MONITOR_LOST),
    ],
)
def test_supply_interrupted_by(action: str, status: CpStatus, reason: EndReason) -> None:
    cp = supplying()
    do = {
        "stop": cp.stop,
        "fault": lambda: cp.fault("x"),
        "unreachable": lambda: cp.heartbeat(EngineHealth.UNREACHABLE),
        "lost": cp.link_lost,
    }[action]
    t = do()
    assert (t.before, t.after) == (SUP, status)
    assert len(t.effects) == 1
    effect = t.effects[0]
    assert isinstance(effect, SupplyInterrupted)
    assert effect.reason is reason and effect.session.session_id == "s1"
    assert cp.session is None


@pytest.mark.parametrize(
    ("action", "reason"),
    [("stop", EndReason.STOPPED), ("fault", EndReason.FAULT), ("lost", EndReason.MONITOR_LOST)],
)
def test_authorization_cancelled_by(action: str, reason: EndReason) -> None:
    cp = online()
    cp.authorize(session())
    t = {"stop": cp.stop, "fault": lambda: cp.fault("x"), "lost": cp.link_lost}[action]()
    assert [type(e) for e in t.effects] == [AuthorizationCancelled]
    assert t.effects[0].reason is reason
    assert cp.session is None


def test_restored_supply_waits_on_a_disconnected_cp_and_resumes_with_its_monitor() -> None:
    cp = CpMachine("CP-01")
    s = session()
    s.phase = SessionPhase.SUPPLYING
    cp.restore(s)
    assert cp.status is D
    assert cp.link_lost().effects == ()  # no interruption while restored
    t = cp.authenticate()
    assert t.after is SUP and t.effects == ()
    assert cp.session is not None and not cp.session.restored
    t = cp.heartbeat(EngineHealth.KO)  # from now on a normal supply
    assert isinstance(t.effects[0], SupplyInterrupted)


def test_view_never_shows_engine_while_disconnected() -> None:
    cp = supplying()
    assert cp.view().driver_id == "D-001"
    cp.link_lost()
    view = cp.view()
    assert view.status is D and view.engine is None and view.driver_id is None
