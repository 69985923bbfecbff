"""What *Stop all* and *Resume all* ask before they act, in numbers the operator can check.

"Stop all 12 charging points?" with 5 connected hid what happens to the 7 others: the
question says how many are connected (they stop now, their supplies end and are ticketed)
and what happens to the rest (marked stopped too: they stay Out of Order when they connect).
Pure text from the table's rows, so a test reads exactly what the dialog shows.
"""

from __future__ import annotations

from collections.abc import Sequence

from central_app.views import CpStatus, CpView
from wire.display import count

__all__ = ["resume_all_question", "stop_all_question"]


def _they(n: int, one: str, many: str) -> str:
    return one if n == 1 else many


def stop_all_question(cps: Sequence[CpView]) -> str:
    away = sum(cp.status is CpStatus.DISCONNECTED for cp in cps)
    connected = len(cps) - away
    supplying = sum(cp.status is CpStatus.SUPPLYING for cp in cps)
    lines = [f"Stop all {count(len(cps), 'charging point')}?", ""]
    if connected:
        now = (
            f"{connected} {_they(connected, 'is', 'are')} connected: "
            f"{_they(connected, 'it turns', 'they turn')} “Out of Order” now"
        )
        if supplying:
            now += (
                f", and {count(supplying, 'running supply', 'running supplies')} "
                f"{_they(supplying, 'ends now and is', 'end now and are')} ticketed"
            )
        lines.append(now + ".")
    else:
        lines.append("None of them is connected now.")
    if away:
        lines.append(
            f"{away} {_they(away, 'is', 'are')} not connected: marked stopped too, "
            f"{_they(away, 'it stays', 'they stay')} “Out of Order” when "
            f"{_they(away, 'it connects', 'they connect')}."
        )
    lines += ["", "Resume all puts them back in service."]
    return "\n".join(lines)


def resume_all_question(cps: Sequence[CpView]) -> str:
    stopped = [cp for cp in cps if cp.admin_state == "STOPPED"]
    if not stopped:
        return "No charging point is stopped now: Resume all changes nothing."
    n = len(stopped)
    away = sum(cp.status is CpStatus.DISCONNECTED for cp in stopped)
    text = (
        f"Resume all charging points?\n\n{count(n, 'charging point')} "
        f"{_they(n, 'is stopped now and goes', 'are stopped now and go')} back in service"
    )
    if away:
        text += f" ({away} of them when {_they(away, 'it connects', 'they connect')})"
    return text + "."
