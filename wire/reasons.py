"""Reason codes that travel in ``denied``, ``supply_ended``, ``supply_interrupted`` and
``ticket`` events, as enums, and in words.

An end reason (``supply_ended.reason``) is one :class:`EndReason`. A denial is written as
``code`` or ``code: detail`` (``cp_not_available: BROKEN``) with ``code`` a
:class:`DenyReason`; :func:`deny_text` builds it, :func:`reason_code` reads its code. The
driver's screens and the operator's log both show a reason through :func:`describe_reason`,
so the two always say the same thing. The values are the wire spellings of PROTOCOL.md.
"""

from __future__ import annotations

from enum import StrEnum


class EndReason(StrEnum):
    """How a supply ended (``supply_ended``, ``supply_interrupted``, ``ticket``)."""

    UNPLUGGED = "unplugged"
    STOPPED = "stopped"
    FAULT = "fault"
    MONITOR_LOST = "monitor_lost"
    ENGINE_RESTART = "engine_restart"

    @property
    def interrupted(self) -> bool:
        """Every end but the vehicle unplugged is an interruption for the driver."""
        return self is not EndReason.UNPLUGGED


class DenyReason(StrEnum):
    """Why Central said no to a request, or took back an authorization (``denied``)."""

    EXPIRED = "expired"
    UNKNOWN_DRIVER = "unknown_driver"
    UNKNOWN_CP = "unknown_cp"
    CP_BUSY = "cp_busy"
    CP_NOT_AVAILABLE = "cp_not_available"
    DRIVER_BUSY = "driver_busy"
    AUTHORIZATION_EXPIRED = "authorization_expired"
    AUTHORIZATION_REJECTED = "authorization_rejected"
    AUTHORIZATION_CANCELLED = "authorization_cancelled"
    INTERNAL_ERROR = "internal_error"


_WORDS: dict[str, str] = {
    EndReason.UNPLUGGED: "vehicle unplugged",
    EndReason.STOPPED: "stopped by Central",
    EndReason.FAULT: "charging point fault",
    EndReason.MONITOR_LOST: "charging point lost contact with Central",
    EndReason.ENGINE_RESTART: "charging point restarted",
    DenyReason.EXPIRED: "request expired before Central could answer",
    DenyReason.UNKNOWN_DRIVER: "driver not registered at Central",
    DenyReason.UNKNOWN_CP: "unknown charging point",
    DenyReason.CP_BUSY: "charging point is busy",
    DenyReason.CP_NOT_AVAILABLE: "charging point is not available",
    DenyReason.DRIVER_BUSY: "the driver already has a charge in progress",
    DenyReason.AUTHORIZATION_EXPIRED: "the vehicle was not plugged in in time",
    DenyReason.AUTHORIZATION_REJECTED: "the charging point refused the authorization",
    DenyReason.AUTHORIZATION_CANCELLED: "authorization cancelled",
    DenyReason.INTERNAL_ERROR: "Central could not record the authorization",
}

#: The ``supply_ended`` reasons PROTOCOL.md fixes (how a ticket can end), wire spelling.
END_REASONS: tuple[str, ...] = tuple(reason.value for reason in EndReason)


def deny_text(code: DenyReason, detail: str = "") -> str:
    """The wire form of a denial: ``code`` or ``code: detail``."""
    return f"{code.value}: {detail}" if detail else code.value


def reason_code(reason: str) -> str:
    """The code of a wire reason (the part before the first ``:``), lower-case."""
    return reason.partition(":")[0].strip().lower()


def is_interruption(reason: str) -> bool:
    """Every end of a supply but the vehicle unplugged is an interruption for the driver."""
    return reason_code(reason) != EndReason.UNPLUGGED


def describe_reason(reason: str) -> str:
    """Turn a wire reason (``code`` or ``code: detail``) into words a person understands;
    unknown codes pass through with underscores as spaces."""
    detail = reason.partition(":")[2].strip()
    text = _WORDS.get(reason_code(reason))
    if text is None:
        return reason.replace("_", " ")
    return f"{text} ({detail})" if detail else text
