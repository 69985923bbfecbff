"""EV_Central's Qt control center.

Public surface: :func:`run_control_center` (what ``central_app.main`` calls),
:func:`freeze_startup_objects` and :class:`ControlCenterWindow` (tests, scripts). Everything
else is internal: the bridge from the core's threads to Qt, the CP model shared by table and
map, the panels.

The exports are loaded lazily (PEP 562): importing ``central_app.gui.theme`` or a model does
not import the window, and ``central_app.gui`` itself imports no Qt at all.
"""

from __future__ import annotations

import importlib
from typing import Any

__all__ = ["ControlCenterWindow", "freeze_startup_objects", "run_control_center"]

_HOMES = {
    "ControlCenterWindow": "central_app.gui.window",
    "freeze_startup_objects": "central_app.gui.app",
    "run_control_center": "central_app.gui.app",
}


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(home), name)
