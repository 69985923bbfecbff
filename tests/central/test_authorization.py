"""Authorization rules: each denial reason, and request expiry."""

from __future__ import annotations

from datetime import timedelta

import pytest

from central_app.authorization import (
    AuthorizationPolicy,
    DenyReason,
    authorization_overdue,
    decide,
)
from central_app.cp_state import CpMachine, CpSession
from wire.kafka.messages import ChargeRequest
from wire.tcp_messages import EngineHealth
from wire.timefmt import format_ts, utc_now

NOW = utc_now()


def request(age: float = 0.0, ts: str | None = None) -> ChargeRequest:
    return ChargeRequest(
        request_id="r1",
        driver_id="D-001",
        cp_id="CP-01",
        ts=ts or format_ts(NOW - timedelta(seconds=age)),
    )


def active_cp() -> CpMachine:
    cp = CpMachine("CP-01", price=0.4)
    cp.authenticate()
    cp.heartbeat(EngineHealth.OK)
    return cp


def run(req: ChargeRequest | None = None, **kw):  # type: ignore[no-untyped-def]
    args = {"now": NOW, "driver_known": True, "cp": active_cp(), "driver_busy": False}
    args.update(kw)
    return decide(req or request(), **args)


def test_allowed() -> None:
    decision = run()
    assert decision.allowed and decision.reason is None and decision.wire_reason == ""


def test_unknown_driver() -> None:
    assert run(driver_known=False).reason is DenyReason.UNKNOWN_DRIVER


def test_unknown_cp() -> None:
    assert run(cp=None).reason is DenyReason.UNKNOWN_CP


@pytest.mark.parametrize(
    ("make", "status"),
    [("stop", "STOPPED"), ("fault", "BROKEN"), ("lost", "DISCONNECTED")],
)
def test_cp_not_available_says_the_status(make: str, status: str) -> None:
    cp = active_cp()
    {"stop": cp.stop, "fault": lambda: cp.fault("x"), "lost": cp.link_lost}[make]()
    decision = run(cp=cp)
    assert decision.reason is DenyReason.CP_NOT_AVAILABLE
    assert decision.wire_reason == f"cp_not_available: {status}"


def test_cp_busy_when_authorized_or_supplying() -> None:
    cp = active_cp()
    cp.authorize(CpSession(session_id="s", driver_id="D-002", price=0.4, expires_at="x"))
    assert run(cp=cp).reason is DenyReason.CP_BUSY
    cp.supply_started("s", "t", now=0.0)
    assert run(cp=cp).reason is DenyReason.CP_BUSY


def test_driver_busy() -> None:
    assert run(driver_busy=True).reason is DenyReason.DRIVER_BUSY


def test_request_older_than_10_s_is_expired() -> None:
    assert run(request(age=9.5)).allowed
    decision = run(request(age=10.5))
    assert decision.reason is DenyReason.EXPIRED and decision.wire_reason == "expired"


def test_expired_wins_over_everything_else() -> None:
    assert run(request(age=60), driver_known=False, cp=None).reason is DenyReason.EXPIRED


def test_unreadable_or_future_timestamp_is_expired() -> None:
    assert run(request(ts="yesterday")).reason is DenyReason.EXPIRED
    assert run(request(age=-60)).reason is DenyReason.EXPIRED


def test_policy_expiry_and_overdue() -> None:
    policy = AuthorizationPolicy(authorization_ttl=30)
    expires = policy.expires_at(NOW)
    assert not authorization_overdue(expires, NOW + timedelta(seconds=31), grace=5)
    assert authorization_overdue(expires, NOW + timedelta(seconds=36), grace=5)
    assert authorization_overdue("garbage", NOW, grace=5)
