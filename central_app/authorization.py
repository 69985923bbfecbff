"""The rules for a ``charge_request`` (SPEC "mechanics" 4, PROTOCOL "delivery rules").

Plain functions over plain values: the core gathers the facts (is the driver registered, the
CP's machine, does the driver already hold a session) and :func:`decide` says yes or no with
a reason. The reason on the wire is the code alone, or ``code: detail`` when a detail helps
(``cp_not_available: BROKEN``); drivers may split on the first ``:``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from central_app.cp_state import CpMachine
from wire.kafka.messages import ChargeRequest
from wire.reasons import DenyReason, deny_text
from wire.timefmt import format_ts, parse_ts


@dataclass(frozen=True, slots=True)
class AuthorizationPolicy:
    max_request_age: float = 10.0  # seconds; older requests are answered denied/expired
    authorization_ttl: float = 30.0  # seconds to plug in before the authorization expires
    max_clock_skew: float = 5.0  # a request "from the future" beyond this is refused too

    def expires_at(self, now: datetime) -> str:
        return format_ts(now + timedelta(seconds=self.authorization_ttl))


@dataclass(frozen=True, slots=True)
class Decision:
    allowed: bool
    reason: DenyReason | None = None
    detail: str = ""

    @property
    def wire_reason(self) -> str:
        return "" if self.reason is None else deny_text(self.reason, self.detail)


ALLOW = Decision(True)


def request_age(request: ChargeRequest, now: datetime) -> float | None:
    """Seconds since the request was made, or None when its timestamp is unreadable."""
    try:
        return (now - parse_ts(request.ts)).total_seconds()
    except ValueError:
        return None


def decide(
    request: ChargeRequest,
    *,
    now: datetime,
    driver_known: bool,
    cp: CpMachine | None,
    driver_busy: bool,
    policy: AuthorizationPolicy = AuthorizationPolicy(),
) -> Decision:
    age = request_age(request, now)
    if age is None:
        return Decision(False, DenyReason.EXPIRED, "unreadable timestamp")
    if age > policy.max_request_age or age < -policy.max_clock_skew:
        return Decision(False, DenyReason.EXPIRED)
    if not driver_known:
        return Decision(False, DenyReason.UNKNOWN_DRIVER)
    if cp is None:
        return Decision(False, DenyReason.UNKNOWN_CP)
    if cp.session is not None:
        return Decision(False, DenyReason.CP_BUSY)
    if not cp.available:
        return Decision(False, DenyReason.CP_NOT_AVAILABLE, cp.status.value)
    if driver_busy:
        return Decision(False, DenyReason.DRIVER_BUSY)
    return ALLOW


def authorization_overdue(expires_at: str, now: datetime, grace: float) -> bool:
    """Central's own expiry: the engine should have said ``authorization_expired`` by then."""
    try:
        return now > parse_ts(expires_at) + timedelta(seconds=grace)
    except ValueError:
        return True
