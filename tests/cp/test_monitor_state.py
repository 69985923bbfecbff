"""What the monitor reports to Central on engine health transitions."""

from __future__ import annotations

from cp_node.monitor_state import MonitorState
from wire.tcp_messages import EngineHealth, Fault, Recovered


def test_fault_and_recovered_on_transitions_only() -> None:
    s = MonitorState("CP1")
    assert s.next_report() is None  # nothing checked yet
    s.on_check(EngineHealth.OK)
    assert s.next_report() is None
    s.on_check(EngineHealth.UNREACHABLE)
    report = s.next_report()
    assert report == Fault(cp_id="CP1", reason="engine unreachable")
    s.mark_reported(report)
    assert s.next_report() is None
    s.on_check(EngineHealth.KO, reason="fault injected by technician")
    report = s.next_report()
    assert isinstance(report, Fault) and "fault injected" in report.reason
    s.mark_reported(report)
    s.on_check(EngineHealth.OK)
    report = s.next_report()
    assert report == Recovered(cp_id="CP1")
    s.mark_reported(report)
    assert s.next_report() is None


def test_a_new_session_reports_a_standing_fault_again() -> None:
    s = MonitorState("CP1")
    s.on_check(EngineHealth.KO, reason="x")
    s.mark_reported(s.next_report())
    s.on_session()
    assert isinstance(s.next_report(), Fault)
