"""Running the control center: the Qt application, signals, and the window's lifetime.

Kept out of ``central_app.gui.__init__`` so that importing a piece of the GUI (``theme``, a
model) does not build the whole window module first.
"""

from __future__ import annotations

import contextlib
import gc
import logging
import signal
import sys
from collections.abc import Callable
from types import TracebackType
from typing import Any

from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication

from central_app.gui.pair import PairWindows
from central_app.gui.window import ControlCenterWindow
from central_app.standby_feed import StandbyFeed
from central_app.standby_view import StandbyView
from central_app.views import CentralControls

__all__ = ["freeze_startup_objects", "run_control_center"]

log = logging.getLogger(__name__)

_SIGNALS = (signal.SIGINT, signal.SIGTERM)


def freeze_startup_objects() -> None:
    """Keep what start-up built (modules, Qt wrappers, the window) out of Python's cycle
    collector from now on.

    Under the design load (1,000 CPs reporting every second) a full collection runs every
    few seconds and, scanning every object of the process, stopped the GUI thread for
    25 ms or more; frozen objects are skipped, so it then scans only what changed since.
    Frozen objects are still freed by reference counting.
    """
    gc.collect()
    gc.freeze()


def run_control_center(
    runtime: CentralControls, args: Any = None, start: Callable[[], None] | None = None
) -> int:
    """Show the control center for ``runtime`` and run the Qt event loop; returns its exit code.

    ``main`` has already started the runtime and stops it after this returns, except for a
    Central of a pair: then ``start`` is given (it blocks while this Central is the standby)
    and ``central_app.gui.pair`` shows the read-only standby window until it returns. ``args`` is
    main's parsed namespace; the optional ``city`` (path of a city file), ``port``, ``kafka`` and
    ``geometry`` attributes are used when present.
    """
    app = QApplication.instance()
    created = app is None
    if app is None:
        app = QApplication(sys.argv[:1])
        app.setApplicationName("EV_Central")
        app.setApplicationDisplayName("EV_Central")
        app.setStyle("Fusion")
        app.setPalette(app.style().standardPalette())
    assert isinstance(app, QApplication)

    parts = []
    if (port := getattr(args, "port", None)) is not None:
        parts.append(f"TCP :{port}")
    if kafka := getattr(args, "kafka", None):
        parts.append(f"Kafka {kafka}")

    def make_window(controls: CentralControls) -> ControlCenterWindow:
        window = ControlCenterWindow(
            controls, city_path=getattr(args, "city", None), subtitle=" · ".join(parts)
        )
        if (geometry := getattr(args, "geometry", None)) is not None:  # --geometry WxH+X+Y
            width, height, x, y = geometry
            window.resize(width, height)
            window.move(x, y)
        return window

    pair = None if start is None else _pair(runtime, start, make_window)
    window = make_window(runtime) if pair is None else pair.window

    def current() -> ControlCenterWindow:
        return window if pair is None else pair.window

    def excepthook(kind: type[BaseException], exc: BaseException, tb: TracebackType | None) -> None:
        # An exception escaping a slot must not print a traceback at the operator.
        log.error("unexpected error in the control center", exc_info=(kind, exc, tb))
        with contextlib.suppress(RuntimeError):  # the window may already be gone
            current().report_unexpected(exc)

    previous_hook = sys.excepthook
    sys.excepthook = excepthook
    # Ctrl+C / SIGTERM close the window cleanly (main then stops the runtime); the timer lets
    # Python run signal handlers while Qt's event loop is in C++.
    previous = {sig: _install(sig, lambda *_: current().close()) for sig in _SIGNALS}
    wake = QTimer()
    wake.start(250)
    wake.timeout.connect(lambda: None)
    try:
        if pair is None:
            window.show()
        else:
            pair.begin()
        freeze_startup_objects()
        code = int(app.exec())
    finally:
        if pair is not None:
            pair.finish()
        wake.stop()
        for sig, handler in previous.items():
            if handler is not None:
                _install(sig, handler)
        sys.excepthook = previous_hook
        current().close()
        current().deleteLater()
        if created:
            app.processEvents()
    return code


def _pair(
    runtime: Any, start: Callable[[], None], make_window: Callable[..., ControlCenterWindow]
) -> PairWindows:
    """The standby's view and its Kafka feed, from the runtime's configuration."""
    cfg = runtime.config
    view = StandbyView(cfg.central_id)
    feed = StandbyFeed(view, cfg.kafka, runtime.topics, cfg.kafka_security)
    return PairWindows(runtime, start, runtime.pair.abandon, make_window, feed, view)


def _install(sig: signal.Signals, handler: Any) -> Any:
    """Set a signal handler; returns the previous one (None off the main thread)."""
    try:
        return signal.signal(sig, handler)
    except ValueError:  # not the main thread: leave signals to whoever owns them
        return None
