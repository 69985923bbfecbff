"""What imports what, and defaults said once: cheap checks of the module layout."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]

CHECK = """
import sys
import central_app.gui
assert not any(m.startswith("PySide6") for m in sys.modules), "central_app.gui imports Qt"
from central_app.gui import theme
assert "central_app.gui.window" not in sys.modules, "theme pulled in the window"
import wire.health
assert "wire.tcp_server" not in sys.modules, "wire.health pulls in the asyncio TCP server"
from central_app.gui import ControlCenterWindow  # the lazy export still works
assert ControlCenterWindow.__module__ == "central_app.gui.window"
print("ok")
"""


def test_gui_package_and_health_import_only_what_they_use() -> None:
    result = subprocess.run(
        [sys.executable, "-c", CHECK],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
        env={"QT_QPA_PLATFORM": "offscreen", "PATH": "/usr/bin:/bin"},
    )
    assert result.stdout.strip() == "ok", result.stderr


def test_the_default_price_is_one_constant() -> None:
    from central_app.config import CentralConfig
    from central_app.cp_state import CpMachine
    from central_app.main import build_parser
    from central_app.monitors import MonitorDesk
    from central_app.pricing import DEFAULT_PRICE

    args = build_parser().parse_args(["--port", "1", "--kafka", "h:1"])
    desk = MonitorDesk.__init__.__kwdefaults__["default_price"]  # type: ignore[index]
    assert (
        args.default_price
        == CentralConfig(port=1, kafka="h:1", db_url="sqlite://").default_price
        == desk
        == CpMachine("CP").price
        == DEFAULT_PRICE
    )
