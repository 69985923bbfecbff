"""Start the Qt client: QApplication, runtime thread, bridge, window."""

from __future__ import annotations

import signal
import sys
from pathlib import Path

from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication

from driver_app.console import ConsoleListener, FanOut
from driver_app.gui.bridge import QtBridge
from driver_app.gui.window import DriverWindow
from driver_app.runtime import DriverConfig, DriverRuntime
from driver_app.services import ServiceEntry


def run_gui(
    config: DriverConfig,
    services: Path | None,
    entries: list[ServiceEntry] | None,
    *,
    geometry: tuple[int, int, int, int] | None = None,
) -> int:
    """``geometry``: (width, height, x, y) of the window (``--geometry``)."""
    app = QApplication.instance() or QApplication(sys.argv[:1])
    app.setApplicationName("EV Driver")
    bridge = QtBridge()
    # the window, and the console's lines on stdout (the driver's log file under make run)
    runtime = DriverRuntime(config, FanOut(bridge, ConsoleListener(config.driver_id)))
    window = DriverWindow(config.driver_id, bridge, runtime, tickets=runtime.core.history.tickets())
    if geometry is not None:
        width, height, x, y = geometry
        window.resize(width, height)
        window.move(x, y)
    window.show()
    # Ctrl+C in the terminal closes the window cleanly (Python sees signals between events).
    signal.signal(signal.SIGINT, lambda *_: window.close())
    keepalive = QTimer()
    keepalive.start(200)
    keepalive.timeout.connect(lambda: None)
    runtime.start()
    if entries is not None and services is not None:
        runtime.run_file(str(services), entries)
    try:
        return app.exec()
    finally:
        runtime.stop()
