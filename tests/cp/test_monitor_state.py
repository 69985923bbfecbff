"""What the monitor reports to Central on engine health transitions; its reconnection back-off."""

from __future__ import annotations

import random

import pytest

from cp_core.monitor_state import (
    NO_ANSWER,
    Backoff,
    CentralAddresses,
    MonitorState,
    PartnerProbe,
    Report,
    spread,
)
from wire.tcp_messages import EngineHealth, Fault, Recovered

UNREACHABLE = EngineHealth.UNREACHABLE


def test_fault_and_recovered_on_transitions_only() -> None:
    s = MonitorState("CP1")
    assert s.next_report() is None  # nothing checked yet
    s.on_check(EngineHealth.OK)
    assert s.next_report() is None
    s.on_check(EngineHealth.UNREACHABLE)
    report = s.next_report()
    assert report == Report(Fault(cp_id="CP1", reason="engine unreachable"), UNREACHABLE)
    s.mark_reported(report)
    assert s.next_report() is None
    s.on_check(EngineHealth.KO, reason="engine unreachable")  # a KO worded like the other
    report = s.next_report()
    assert report.health is EngineHealth.KO and "engine unreachable" in report.message.reason
    s.mark_reported(report)
    assert s.next_report() is None  # what was reported is the health, not the wording
    s.on_check(EngineHealth.OK)
    report = s.next_report()
    assert report == Report(Recovered(cp_id="CP1"), EngineHealth.OK)
    s.mark_reported(report)
    assert s.next_report() is None


def test_a_late_time_out_after_a_refused_handshake_is_the_same_fault_said_once() -> None:
    """CI flake: on a fresh socket ZeroMQ's word of the refused CURVE key came after the
    deadline, and the monitor said "Engine UNREACHABLE" a second time without the reason."""
    s = MonitorState("CP1")
    refused = "the engine refused our CURVE key (docs/security.md)"
    assert s.on_check(UNREACHABLE, reason=refused)
    assert not s.on_check(UNREACHABLE, reason=NO_ANSWER)
    assert s.engine_reason == refused
    assert s.on_check(EngineHealth.OK)
    assert s.on_check(UNREACHABLE, reason=NO_ANSWER)  # a real time-out after that is news
    assert s.engine_reason == NO_ANSWER


def test_a_new_session_reports_a_standing_fault_again() -> None:
    s = MonitorState("CP1")
    s.on_check(EngineHealth.KO, reason="x")
    s.mark_reported(s.next_report())
    s.on_session()
    assert isinstance(s.next_report().message, Fault)


def test_backoff_doubles_from_0_2_s_to_a_5_s_ceiling_with_full_jitter() -> None:
    top = Backoff(random=lambda: 1.0)  # the ceiling itself
    ceilings = [top.next_delay() for _ in range(8)]
    assert ceilings == pytest.approx([0.2, 0.4, 0.8, 1.6, 3.2, 5.0, 5.0, 5.0])
    assert Backoff(random=lambda: 0.0).next_delay() == 0.0  # full jitter: may retry at once
    quarter = Backoff(random=lambda: 0.25)
    assert [quarter.next_delay() for _ in range(3)] == pytest.approx([0.05, 0.1, 0.2])


def test_backoff_reset_after_a_working_session_starts_over() -> None:
    b = Backoff(random=lambda: 1.0)
    for _ in range(50):  # a long outage: no overflow, still capped
        assert b.next_delay() <= 5.0
    b.reset()
    assert b.next_delay() == pytest.approx(0.2)


def test_backoff_spreads_monitors_that_failed_together() -> None:
    rng = random.Random(7)
    herd = [Backoff(random=rng.random) for _ in range(1000)]
    for b in herd:  # everybody lost Central at the same instant; the 6th retry of each
        for _ in range(5):
            b.next_delay()
    waits = sorted(b.next_delay() for b in herd)
    assert waits[0] >= 0 and waits[-1] <= 5.0
    # roughly uniform over [0, 5 s]: about a fifth of the herd in each second
    per_second = [sum(1 for w in waits if s <= w < s + 1) for s in range(5)]
    assert all(150 <= n <= 250 for n in per_second), per_second


def test_spread_keeps_the_mean_and_varies_by_half() -> None:
    assert spread(5.0, 0.0) == 2.5
    assert spread(5.0, 0.5) == 5.0
    assert spread(5.0, 0.999) == pytest.approx(7.495)


def test_a_silent_central_s_partner_is_asked_after_2_s_then_every_2_s_and_only_in_a_pair() -> None:
    pair = CentralAddresses.of([("a", 1), ("b", 2)])
    probe = PartnerProbe()
    assert not probe.due(pair, silent_s=1.9, now=100.0)  # a slow answer is not yet silence
    assert probe.due(pair, silent_s=2.0, now=100.0)
    assert not probe.due(pair, silent_s=3.0, now=101.0)  # one probe per 2 s
    assert probe.due(pair, silent_s=4.0, now=102.0)
    assert not PartnerProbe().due(CentralAddresses.of(("a", 1)), silent_s=9.0, now=100.0)
