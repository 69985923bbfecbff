"""Central's lines as a first-time user reads them (issue 23): the status line's monitors agree
with its states, a CP that never connected is said once, the log is written with the window
too, a delayed reading keeps its own time, each Central of a pair has its own id."""

from __future__ import annotations

import io
import threading
import time
from collections import Counter
from types import SimpleNamespace

import pytest

from central_app import main as central_main
from central_app.config import CentralConfig, default_central_id
from central_app.console import ConsoleView
from central_app.runtime import CentralRuntime
from central_app.unsent import NeverConnected
from central_app.views import CpStatus, LinkStatus, LogEntry, LogLevel
from tests.central.test_supplies import authorize, online, world  # noqa: F401  (fixture)
from wire.kafka.messages import Stop, SupplyProgress, SupplyStarted


class Counts:
    """Controls whose states are fresher than the links (refreshed once a second)."""

    def __init__(self, counts: dict[CpStatus, int]) -> None:
        self.counts = Counter(counts)

    def status_counts(self) -> Counter[CpStatus]:
        return self.counts

    def snapshot(self) -> list:
        return []


def test_the_status_line_counts_monitors_with_the_states() -> None:
    controls = Counts({CpStatus.ACTIVE: 3, CpStatus.DISCONNECTED: 9})
    console = ConsoleView(controls, io.StringIO())
    console.links_changed(LinkStatus(kafka_up=True, database_ok=True, monitors_connected=0))
    line = console.status_line()
    assert "ACTIVE 3" in line and "| monitors 3 |" in line  # it said "monitors 0"


def test_never_connected_cps_are_said_once_in_one_line() -> None:
    unsent = NeverConnected()
    assert unsent.add("CP-06", "stop") is True
    assert [unsent.add(f"CP-{i:02d}", "stop") for i in range(7, 16)] == [False] * 9
    line = unsent.line()
    assert line is not None and line.startswith("stop not sent to CP-06, CP-07")
    assert "CP-13 and 2 more: 10 charging points never connected to this Central" in line
    assert "has no key" not in line and "register again" not in line
    assert unsent.add("CP-06", "resume") is False and unsent.line() is None  # once for good


def test_stop_all_over_seeded_cps_says_it_once(tmp_path) -> None:
    """The runtime's path: a Stop for a CP without a key, never registered, not revoked."""
    runtime = CentralRuntime(CentralConfig(port=0, kafka="127.0.0.1:1", db_url="sqlite://"))
    said: list[str] = []
    ledger = SimpleNamespace(can_authenticate=lambda cp: False, revoked=lambda cp: False)
    runtime.reports.hub = SimpleNamespace(
        ledger=ledger, say=lambda text, *a, **k: said.append(text)
    )  # type: ignore[assignment]
    posted: list = []
    runtime.owner.post = posted.append  # type: ignore[method-assign]
    for _ in range(2):  # two "stop all" in a row
        for cp in ("CP-06", "CP-07"):
            runtime.reports.unsealable(runtime.topics.cp_commands, cp, Stop(cp_id=cp), "no key")
        for fn in posted:
            fn()
        posted.clear()
    assert said == [
        "stop not sent to CP-06, CP-07: 2 charging points never connected to this Central "
        "(no key yet, no engine listening); each gets its state from Central when its "
        "monitor connects"
    ]


def test_the_default_central_id_differs_per_port() -> None:
    a = CentralConfig(port=7070, kafka="k:1", db_url="sqlite://")
    b = CentralConfig(port=7071, kafka="k:1", db_url="sqlite://")
    assert a.central_id != b.central_id and a.central_id.endswith(":7070")
    assert a.central_id == default_central_id(7070)
    assert CentralConfig(port=1, kafka="k:1", db_url="x", central_id="a").central_id == "a"
    assert default_central_id(0).split(":")[-1].startswith("pid")


def test_a_delayed_reading_keeps_its_own_time(world) -> None:  # noqa: F811
    """After a broker outage the engine's readings arrive together; each notice carries the
    reading's time, so the driver shows each one's elapsed (they all read 00:19)."""
    hub, desk, monitors, outbox, topics, clock, store = world
    online(monitors, "CP-01")
    auth = authorize(desk, outbox, topics)
    base = {"session_id": auth.session_id, "cp_id": "CP-01", "driver_id": "D-001"}
    desk.cp_event(SupplyStarted(started_at="2026-11-20T10:00:00.000Z", **base))
    stamps = [f"2026-11-20T10:00:0{i}.000Z" for i in range(1, 4)]
    for seq, ts in enumerate(stamps, 1):
        desk.cp_event(SupplyProgress(seq=seq, kw=7, kwh=seq / 10, eur=0.04 * seq, ts=ts, **base))
    notices = [e for t, _, e in outbox.sent if t == topics.driver_notices]
    assert [n.ts for n in notices if n.TYPE == "supply_progress"] == stamps


class FakeRuntime:
    def __init__(self, config: CentralConfig) -> None:
        self.config = config
        self.listeners: list = []
        self.pair = SimpleNamespace(deposed=threading.Event(), abandon=lambda: None)

    def add_listener(self, listener) -> None:  # type: ignore[no-untyped-def]
        self.listeners.append(listener)

    def status_counts(self) -> Counter[CpStatus]:
        return Counter({CpStatus.ACTIVE: 2})

    def start(self) -> None:
        pass

    def stop(self) -> None:
        pass


def test_with_the_window_central_still_logs_every_event_and_its_status(monkeypatch, capsys) -> None:
    monkeypatch.setenv("QT_QPA_PLATFORM", "offscreen")
    made: list[FakeRuntime] = []
    monkeypatch.setattr(
        central_main, "CentralRuntime", lambda cfg: made.append(FakeRuntime(cfg)) or made[-1]
    )
    seen = {}

    def run_control_center(runtime, args, start):  # type: ignore[no-untyped-def]
        seen["geometry"] = args.geometry
        (console,) = [lis for lis in runtime.listeners if isinstance(lis, ConsoleView)]
        console.logged(LogEntry(text="monitor authenticated", level=LogLevel.INFO, source="CP-01"))
        out, deadline = "", time.monotonic() + 5
        while "status:" not in out and time.monotonic() < deadline:
            time.sleep(0.02)
            out += capsys.readouterr().out
        seen["log"] = "[CP-01] monitor authenticated" in out
        seen["status"] = "status: ACTIVE 2" in out and "| monitors 2 |" in out
        return 0

    import central_app.gui.app as gui_app

    monkeypatch.setattr(gui_app, "run_control_center", run_control_center)
    argv = ["--port", "0", "--kafka", "127.0.0.1:1", "--insecure", "--status-every", "0.05"]
    assert central_main.main([*argv, "--geometry", "900x700+10+20"]) == 0
    assert seen == {"geometry": (900, 700, 10, 20), "log": True, "status": True}


def test_geometry_is_checked() -> None:
    with pytest.raises(SystemExit):
        central_main.build_parser().parse_args(
            ["--port", "1", "--kafka", "h:1", "--geometry", "900x700"]
        )
