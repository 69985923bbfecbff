"""What the fleet's child processes (monitor workers, the Kafka simulation) share.

Each child logs to its own file in the run dir (``worker-N.log``, ``kafka-sim.log``):
warnings, and every exception with its traceback (a failed command, an exception in an
event-loop callback, the death of the process). A command that raises is answered with a
``ChildFailure`` instead of killing the child; a child that dies anyway leaves the reason as
the last line of its log, which the coordinator quotes (``ChildDied``).
"""

from __future__ import annotations

import contextlib
import logging
import sys
from dataclasses import dataclass
from pathlib import Path

from fleet.errors import FleetError


@dataclass(frozen=True)
class ChildFailure:
    """A child's reply when the command raised; the traceback is in its log."""

    command: str
    error: str  # "ValueError: …"


class ChildDied(FleetError):
    """A child process died or broke its pipe; the run stops and reports what it has."""


def log_to(path: Path | None, name: str, level: int = logging.WARNING) -> None:
    """Send this process's logging (root logger) to ``path`` (stderr without one)."""
    handler: logging.Handler
    if path is None:
        handler = logging.StreamHandler(sys.stderr)
    else:
        path.parent.mkdir(parents=True, exist_ok=True)
        handler = logging.FileHandler(path, encoding="utf-8")
    handler.setFormatter(
        logging.Formatter(f"%(asctime)s {name} %(levelname)s %(name)s: %(message)s")
    )
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)


def describe(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"


def last_line(path: Path | None) -> str:
    """The last non-blank line of a child's log ("" if none)."""
    if path is None:
        return ""
    with contextlib.suppress(OSError):
        lines = [ln for ln in path.read_text(errors="replace").splitlines() if ln.strip()]
        if lines:
            return lines[-1].strip()
    return ""
