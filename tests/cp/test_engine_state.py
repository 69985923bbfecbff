"""Unit tests of the engine's state machine, metering, expiry and autopilot (fake clock)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from cp_core.metering import amount_eur, energy_kwh, round_eur, round_kwh
from cp_node.autopilot import Action, AutopilotPolicy
from cp_node.engine_state import (
    EngineConfig,
    EngineMachine,
    Refused,
    State,
    ended_from_record,
)
from wire.health_messages import CentralLink, Health, HealthKo, HealthOk
from wire.kafka.messages import (
    AuthorizationExpired,
    AuthorizationRejected,
    Authorize,
    SupplyEnded,
    SupplyProgress,
    SupplyStarted,
)
from wire.tcp_messages import AdminState
from wire.timefmt import format_ts

T0 = datetime(2026, 11, 21, 22, 0, 0, tzinfo=UTC)


class Clock:
    def __init__(self) -> None:
        self.mono = 100.0

    def wall(self) -> datetime:
        return T0 + timedelta(seconds=self.mono - 100.0)


def make(**config) -> tuple[EngineMachine, Clock]:
    clock = Clock()
    return EngineMachine(EngineConfig(**config), wall=clock.wall), clock


def health(cp="CP1", price=0.5, admin=AdminState.ACTIVE, link=CentralLink.UP) -> Health:
    return Health(cp_id=cp, price=price, admin_state=admin, central_link=link)


def authorize(clock: Clock, session="S1", driver="D1", price=0.5, within=60.0) -> Authorize:
    return Authorize(
        session_id=session,
        request_id="R1",
        driver_id=driver,
        cp_id="CP1",
        price=price,
        expires_at=format_ts(clock.wall() + timedelta(seconds=within)),
    )


def ready(**config) -> tuple[EngineMachine, Clock]:
    m, clock = make(**config)
    m.on_health(clock.mono, health())
    return m, clock


def supplying(**config) -> tuple[EngineMachine, Clock]:
    m, clock = ready(**config)
    assert m.on_authorize(clock.mono, authorize(clock)) == []
    [started] = m.plug(clock.mono)
    assert isinstance(started, SupplyStarted)
    return m, clock


# --- metering ------------------------------------------------------------------------------


def test_energy_is_power_times_time_times_speed() -> None:
    assert energy_kwh(22.0, 3600.0) == pytest.approx(22.0)
    assert energy_kwh(22.0, 60.0, speed=60.0) == pytest.approx(22.0)
    assert energy_kwh(7.4, 0.0) == 0.0


def test_rounding_half_up_and_money_from_unrounded_energy() -> None:
    assert round_kwh(1.0005) == 1.001
    assert round_eur(0.125) == 0.13
    assert round_eur(2.675) == 2.68  # binary float 2.67499.. would round down with round()
    # € comes from the unrounded energy: 0.3334 kWh × 0.30 = 0.10002 -> 0.10
    assert amount_eur(0.3334, 0.30) == 0.10
    assert amount_eur(10.0, 0.355) == 3.55


def test_supply_meters_at_the_speed_factor_and_reports_progress_every_second() -> None:
    m, clock = supplying(power_kw=36.0, speed=10.0)
    progress = []
    for step in range(1, 31):  # 3 s in 100 ms ticks, the monitor checking all along
        clock.mono = 100.0 + step / 10 + 1e-9
        m.on_health(clock.mono, health())
        progress += [e for e in m.tick(clock.mono) if isinstance(e, SupplyProgress)]
    assert [p.seq for p in progress] == [1, 2, 3]
    # 36 kW × 3 s × 10 = 0.3 kWh
    assert progress[-1].kwh == pytest.approx(0.3, abs=0.001)
    assert progress[-1].eur == pytest.approx(0.15, abs=0.01)
    assert progress[-1].kw == 36.0
    [ended] = m.unplug(clock.mono)
    assert isinstance(ended, SupplyEnded) and ended.reason == "unplugged"
    assert ended.kwh == 0.3 and ended.eur == 0.15
    assert m.state == State.IDLE


# --- transitions ---------------------------------------------------------------------------


def test_starts_isolated_and_first_health_adopts_cp_id() -> None:
    m, clock = make()
    assert m.state == State.ISOLATED and m.cp_id is None
    reply, _ = m.on_health(clock.mono, health(price=0.42))
    assert reply == HealthOk(cp_id="CP1", engine_state=State.IDLE)
    assert (m.cp_id, m.price) == ("CP1", 0.42)
    reply, _ = m.on_health(clock.mono, health(cp="CP2"))
    assert reply == HealthKo(cp_id="CP2", reason="cp id mismatch")


def test_authorize_plug_unplug_cycle() -> None:
    m, clock = ready()
    m.on_authorize(clock.mono, authorize(clock))
    assert m.state == State.AUTHORIZED
    assert m.on_authorize(clock.mono, authorize(clock)) == []  # redelivery: ignored
    [rejected] = m.on_authorize(clock.mono, authorize(clock, session="S2"))
    assert isinstance(rejected, AuthorizationRejected) and rejected.reason == "busy"
    m.plug(clock.mono)
    assert m.state == State.SUPPLYING
    with pytest.raises(Refused):
        m.plug(clock.mono)
    m.unplug(clock.mono)
    assert m.state == State.IDLE
    with pytest.raises(Refused):
        m.unplug(clock.mono)


def test_plug_without_authorization_is_refused() -> None:
    m, clock = ready()
    with pytest.raises(Refused, match="no driver is authorized"):
        m.plug(clock.mono)


def test_authorization_expires_when_not_plugged_in() -> None:
    m, clock = ready(auth_timeout=5.0)
    m.on_authorize(clock.mono, authorize(clock))
    clock.mono += 2.5
    m.on_health(clock.mono, health())
    clock.mono += 2.4
    assert m.tick(clock.mono) == []
    clock.mono += 0.2
    [expired] = m.tick(clock.mono)
    assert isinstance(expired, AuthorizationExpired) and expired.session_id == "S1"
    assert m.state == State.IDLE


def test_authorization_honours_an_earlier_expires_at_and_rejects_stale_ones() -> None:
    m, clock = ready(auth_timeout=30.0)
    m.on_authorize(clock.mono, authorize(clock, within=2.0))
    clock.mono += 2.1
    assert any(isinstance(e, AuthorizationExpired) for e in m.tick(clock.mono))
    [late] = m.on_authorize(clock.mono, authorize(clock, session="S9", within=-1.0))
    assert isinstance(late, AuthorizationExpired)
    assert m.state == State.IDLE


@pytest.mark.parametrize(
    ("setup", "reason"),
    [
        (lambda m, c: m.set_fault(c.mono, True), "engine fault"),
        (lambda m, c: m.on_stop(c.mono), "out of order (stopped by Central)"),
        (lambda m, c: m.on_health(c.mono, health(link=CentralLink.DOWN)), "central unreachable"),
    ],
)
def test_no_new_supply_when_not_available(setup, reason) -> None:
    m, clock = ready()
    setup(m, clock)
    [rejected] = m.on_authorize(clock.mono, authorize(clock))
    assert isinstance(rejected, AuthorizationRejected) and rejected.reason == reason
    with pytest.raises(Refused, match=reason.split(" (")[0]):
        m.check_manual_request()


def test_isolated_after_three_seconds_without_health_ends_supply_monitor_lost() -> None:
    m, clock = supplying()
    clock.mono += 2.9
    assert not any(isinstance(e, SupplyEnded) for e in m.tick(clock.mono))
    clock.mono += 0.2
    ended = [e for e in m.tick(clock.mono) if isinstance(e, SupplyEnded)]
    assert [e.reason for e in ended] == ["monitor_lost"]
    assert ended[0].kwh > 0
    assert m.state == State.ISOLATED
    [rejected] = m.on_authorize(clock.mono, authorize(clock, session="S2"))
    assert rejected.reason == "monitor lost"
    with pytest.raises(Refused, match="monitor lost"):
        m.check_manual_request()
    reply, _ = m.on_health(clock.mono, health())
    assert reply == HealthOk(cp_id="CP1", engine_state=State.IDLE)


def test_fault_ends_supply_and_answers_ko_until_repaired() -> None:
    m, clock = supplying()
    clock.mono += 1.0
    [ended] = m.set_fault(clock.mono, True)
    assert ended.reason == "fault" and m.state == State.IDLE
    reply, _ = m.on_health(clock.mono, health())
    assert isinstance(reply, HealthKo)
    m.set_fault(clock.mono, False)
    reply, _ = m.on_health(clock.mono, health())
    assert reply == HealthOk(cp_id="CP1", engine_state=State.IDLE)


def test_fault_cancels_a_pending_authorization() -> None:
    m, clock = ready()
    m.on_authorize(clock.mono, authorize(clock))
    [rejected] = m.set_fault(clock.mono, True)
    assert isinstance(rejected, AuthorizationRejected)
    assert m.state == State.IDLE and m.authorization is None


def test_stop_via_kafka_ends_supply_and_resume_reopens() -> None:
    m, clock = supplying()
    clock.mono += 1.0
    [ended] = m.on_stop(clock.mono)
    assert ended.reason == "stopped" and m.state == State.STOPPED
    reply, _ = m.on_health(clock.mono, health())  # HEALTH still says ACTIVE: no edge
    assert reply == HealthOk(cp_id="CP1", engine_state=State.STOPPED)
    m.on_resume(clock.mono)
    assert m.state == State.IDLE


def test_admin_state_in_health_is_edge_triggered() -> None:
    m, clock = supplying()
    _, events = m.on_health(clock.mono, health(admin=AdminState.STOPPED))
    assert [e.reason for e in events if isinstance(e, SupplyEnded)] == ["stopped"]
    assert m.state == State.STOPPED
    m.on_resume(clock.mono)  # Kafka resume; HEALTH still says STOPPED (no new edge)
    m.on_health(clock.mono, health(admin=AdminState.STOPPED))
    assert m.state == State.IDLE
    m.on_stop(clock.mono)
    m.on_health(clock.mono, health(admin=AdminState.ACTIVE))  # edge STOPPED -> ACTIVE
    assert m.state == State.IDLE


def test_stale_stop_commands_are_left_to_health() -> None:
    m, clock = ready(stale_command_age=10.0)
    old = format_ts(clock.wall() - timedelta(seconds=60))
    assert m.on_stop(clock.mono, issued_at=old) == []
    assert m.state == State.IDLE


def test_central_link_down_lets_the_running_supply_finish() -> None:
    m, clock = supplying()
    m.on_health(clock.mono, health(link=CentralLink.DOWN))
    clock.mono += 1.0
    assert not any(isinstance(e, SupplyEnded) for e in m.tick(clock.mono))
    assert m.state == State.SUPPLYING
    [ended] = m.unplug(clock.mono)
    assert ended.reason == "unplugged"


def test_illegal_transition_is_a_bug() -> None:
    m, _ = ready()
    with pytest.raises(RuntimeError):
        m._go(State.SUPPLYING)


def test_journal_record_round_trips_into_engine_restart_report() -> None:
    m, clock = supplying(power_kw=22.0, speed=100.0)
    for step in range(1, 21):
        clock.mono = 100.0 + step / 10
        m.on_health(clock.mono, health())
        m.tick(clock.mono)
    record = m.journal_record()
    assert record is not None and record["status"] == "running"
    ended = ended_from_record(record)
    assert ended.reason == "engine_restart"
    assert ended.kwh == pytest.approx(22.0 * 2 * 100 / 3600, abs=0.001)
    assert ended.eur == amount_eur(record["kwh_exact"], 0.5)
    assert ended.session_id == "S1" and ended.driver_id == "D1"


# --- autopilot -------------------------------------------------------------------------------


def test_autopilot_plugs_after_delay_and_unplugs_after_time_or_energy() -> None:
    pilot = AutopilotPolicy(plug_delay=2.0, unplug_after=5.0)
    m, clock = ready()
    m.on_authorize(clock.mono, authorize(clock))
    clock.mono += 1.9
    assert pilot.decide(m, clock.mono) is None
    clock.mono += 0.2
    assert pilot.decide(m, clock.mono) == Action.PLUG
    m.plug(clock.mono)
    clock.mono += 5.0
    assert pilot.decide(m, clock.mono) == Action.UNPLUG

    by_energy = AutopilotPolicy(plug_delay=0.0, unplug_after=None, unplug_kwh=0.1)
    m, clock = supplying(power_kw=36.0, speed=1.0)
    for _ in range(9):
        clock.mono += 1.0
        m.on_health(clock.mono, health())
        m.tick(clock.mono)  # 0.01 kWh a second
    assert by_energy.decide(m, clock.mono) is None
    clock.mono += 1.1
    m.tick(clock.mono)
    assert by_energy.decide(m, clock.mono) == Action.UNPLUG


def test_health_lagging_behind_a_quick_stop_then_resume_does_not_stop_again() -> None:
    """Stop then Resume within a second: the monitor's next HEALTH still carries STOPPED."""
    m, clock = ready(health_admin_lag=3.0)
    now_ts = format_ts(clock.wall())
    m.on_stop(clock.mono, issued_at=now_ts)
    clock.mono += 0.5
    m.on_resume(clock.mono, issued_at=format_ts(clock.wall()))
    assert m.state == State.IDLE
    clock.mono += 0.5
    m.on_health(clock.mono, health(admin=AdminState.STOPPED))  # stale: the Resume came later
    assert m.state == State.IDLE and not m.admin_stopped
    # A STOPPED that is still there after the lag is the operator's real wish (second path).
    clock.mono += 3.0
    m.on_health(clock.mono, health(admin=AdminState.STOPPED))
    assert m.state == State.STOPPED
