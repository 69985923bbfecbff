"""Reason codes that travel in ``denied``, ``supply_ended`` and ``ticket`` events, in words.

Central writes a reason as ``code`` or ``code: detail`` (``cp_not_available: BROKEN``); the
driver's screens and the operator's log both show it through ``describe_reason`` so the two
always say the same thing.
"""

from __future__ import annotations

_END_REASONS = {
    "unplugged": "vehicle unplugged",
    "stopped": "stopped by Central",
    "fault": "charging point fault",
    "monitor_lost": "charging point lost contact with Central",
    "engine_restart": "charging point restarted",
}

_DENY_REASONS = {
    "expired": "request expired before Central could answer",
    "not_active": "charging point is not available",
    "cp_not_available": "charging point is not available",
    "unknown_cp": "unknown charging point",
    "unknown_driver": "driver not registered at Central",
    "busy": "charging point is busy",
    "cp_busy": "charging point is busy",
    "driver_busy": "the driver already has a charge in progress",
    "authorization_expired": "the vehicle was not plugged in in time",
    "authorization_rejected": "the charging point refused the authorization",
    "authorization_cancelled": "authorization cancelled",
}


def is_interruption(reason: str) -> bool:
    """Every end of a supply but the vehicle unplugged is an interruption for the driver."""
    return reason.partition(":")[0].strip().lower() != "unplugged"


def describe_reason(reason: str) -> str:
    """Turn a wire reason (``code`` or ``code: detail``) into words a person understands;
    unknown codes pass through with underscores as spaces."""
    code, _, detail = reason.partition(":")
    key = code.strip().lower()
    text = _END_REASONS.get(key) or _DENY_REASONS.get(key)
    if text is None:
        return reason.replace("_", " ")
    return f"{text} ({detail.strip()})" if detail.strip() else text
