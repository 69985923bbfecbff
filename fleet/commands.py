"""How the fleet runs Central's programs: ``python -m central_app.main`` and its
``evc-admin`` of the same checkout. Command lines only: the fleet imports no Central."""

from __future__ import annotations

import sys


def default_central_command() -> list[str]:
    return [sys.executable, "-m", "central_app.main"]


def admin_command(central_cmd: list[str]) -> list[str]:
    """``evc-admin`` of the same checkout and interpreter as ``central_cmd``: ``python -m
    central_app.admin`` with the Python of a ``python -m central_app.main`` command, else the
    fleet's own Python (the checkout then comes from --pythonpath)."""
    if len(central_cmd) >= 3 and central_cmd[1:3] == ["-m", "central_app.main"]:
        return [central_cmd[0], "-m", "central_app.admin"]
    return [sys.executable, "-m", "central_app.admin"]
