"""The fleet's one error type: its own module so that every part may raise it without
importing the Central process code (``fleet.security`` and ``fleet.central`` use each other's
names only through it and ``fleet.commands``: no import cycle)."""

from __future__ import annotations


class FleetError(Exception):
    """Something the user must fix or know; printed as one line, never a traceback."""
