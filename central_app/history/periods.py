"""Dates typed by people (``--since 2026-11-20``) turned into the database's UTC text.

The history works in UTC throughout, like the rows it reads: a day is a UTC day and the
labels say so. ``--until`` with a bare date means "to the end of that day", which is what
someone asking for "the 20th to the 26th" expects.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from wire.timefmt import format_ts, utc_now

FORMATS_HELP = "YYYY-MM-DD or YYYY-MM-DDTHH:MM[:SS] (UTC)"


class PeriodError(ValueError):
    """A date or period that cannot be understood (message is for users)."""


def parse_when(text: str, *, end_of_day: bool = False) -> str:
    """``2026-11-20`` or ``2026-11-20T08:30[:00][Z]`` as a wire timestamp (UTC).

    A bare date is the start of that UTC day, or with ``end_of_day`` the start of the next
    one (an exclusive upper bound that includes the whole day).
    """
    raw = text.strip()
    try:
        if len(raw) == 10:
            day = date.fromisoformat(raw)
            moment = datetime(day.year, day.month, day.day, tzinfo=UTC)
            if end_of_day:
                moment += timedelta(days=1)
            return format_ts(moment)
        moment = datetime.fromisoformat(raw.removesuffix("Z").replace(" ", "T"))
    except ValueError:
        raise PeriodError(f"not a date: {text!r} (use {FORMATS_HELP})") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return format_ts(moment)


def last_days(days: int, *, now: datetime | None = None) -> tuple[str, str]:
    """The period of the last ``days`` whole UTC days up to the end of today."""
    now = now or utc_now()
    end = datetime(now.year, now.month, now.day, tzinfo=UTC) + timedelta(days=1)
    return format_ts(end - timedelta(days=days)), format_ts(end)


def day_start(ts: str) -> str:
    """``2026-11-20T13:05:00.000Z`` -> ``2026-11-20`` (its UTC day)."""
    return ts[:10]
