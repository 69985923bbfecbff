"""Timestamps in the one format PROTOCOL.md fixes: UTC ISO-8601 with milliseconds and a Z."""

from __future__ import annotations

from datetime import UTC, datetime


def utc_now() -> datetime:
    return datetime.now(UTC)


def format_ts(moment: datetime) -> str:
    """``2026-11-21T22:30:00.123Z``; naive datetimes are taken as UTC."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    moment = moment.astimezone(UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def now_ts() -> str:
    return format_ts(utc_now())


def parse_ts(text: str) -> datetime:
    """Parse a wire timestamp; raises ValueError on anything else."""
    if not isinstance(text, str) or not text.endswith("Z"):
        raise ValueError(f"not a UTC timestamp: {text!r}")
    return datetime.fromisoformat(text[:-1] + "+00:00").astimezone(UTC)


def local_time(text: str, fmt: str = "%H:%M:%S", unreadable: str | None = None) -> str:
    """A wire timestamp as the user's local clock shows it (``fmt``, ``strftime``'s form):
    what every window prints. An unreadable one is shown as ``unreadable``, by default as
    it came, so a bad timestamp is seen rather than hidden."""
    try:
        return parse_ts(text).astimezone().strftime(fmt)
    except ValueError:
        return text if unreadable is None else unreadable


def format_elapsed(seconds: float) -> str:
    """A duration as ``mm:ss`` or ``h:mm:ss`` (what a charge's clock shows)."""
    seconds = max(0, int(seconds))
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes:02d}:{secs:02d}"
