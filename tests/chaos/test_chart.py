"""``python -m chaos.chart``: a campaign's printed output read back into its timeline."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from chaos import chart

LOG = """\
chaos: seed 7: 3 faults in 60 s (again: evc-chaos --seed 7 --duration 60)
chaos: t=0 the campaign starts (3 faults planned)
chaos: [t=   2.4s] web DIED with no fault on it (exit 2); restarted as pid 30315
chaos: [t=   3.9s] #1 partition engine-CP-08 | broker-1,broker-2,broker-3: 16 DROP rules; heals in 10.8 s
chaos: t=10s faults started 1/3, acting: #1 partition engine-CP-08 | broker-1,broker-2,broker-3 | CPs ACTIVE=7 SUPPLYING=2 DISCONNECTED=1 | tickets=2 open=4 | central-a 101 MiB 50 fds
chaos: [t=  14.7s] #1 healed (partition engine-CP-08 | broker-1,broker-2,broker-3): rules removed; acted 10.8 s
chaos: [t=  19.0s] #2 pause central-a: SIGSTOP to pid 28955; heals in 10.5 s
chaos: [t=  21.0s] #3 kill postgres: FAILED: FileNotFoundError: no such file
chaos: t=20s faults started 3/3, acting: #2 pause central-a | CPs ACTIVE=6 BROKEN=1 STOPPED=1 SUPPLYING=2 | tickets=5 open=3 | central-a 101 MiB 50 fds
chaos: verdict: CLEAN — faults injected 2, sessions 9, tickets 9
"""


def test_the_timeline_is_read_from_what_the_campaign_printed(tmp_path: Path) -> None:
    timeline = chart.read_log(LOG)
    assert sorted(timeline.faults) == [1, 2]  # a fault that FAILED was never injected
    first, second = timeline.faults[1], timeline.faults[2]
    assert (first.kind, first.injected, first.healed) == ("partition", 3.9, 14.7)
    assert first.lanes == ["broker", "engine"]
    assert (second.kind, second.healed, second.lanes) == ("pause", None, ["central"])
    assert [(s.t, s.tickets, s.open, s.not_serving) for s in timeline.samples] == [
        (10.0, 2, 4, 1),
        (20.0, 5, 3, 2),
    ]
    assert timeline.verdict.startswith("CLEAN")
    log = tmp_path / "campaign.log"
    log.write_text(LOG)
    out = tmp_path / "timeline.png"
    assert chart.main([str(log), str(out)]) == 0
    assert out.stat().st_size > 10_000


def test_a_file_without_faults_is_refused_in_words(tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    log = tmp_path / "other.log"
    log.write_text("hello\n")
    assert chart.main([str(log), str(tmp_path / "x.png")]) == 2
    assert "holds no fault lines of evc-chaos" in capsys.readouterr().err


def test_a_chart_leaves_a_process_that_can_still_show_widgets(tmp_path: Path) -> None:
    """Found by the suite on one pytest worker: the chart made a bare QGuiApplication, and Qt
    aborted the whole worker at the technician panel's first QWidget, later in the process."""
    log = tmp_path / "campaign.log"
    log.write_text(LOG)
    script = (
        "import sys\n"
        "from chaos import chart\n"
        f"assert chart.main([{str(log)!r}, {str(tmp_path / 'out.png')!r}]) == 0\n"
        "from PySide6.QtWidgets import QWidget\n"
        "QWidget()\n"
        "print('widget made')\n"
    )
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen")
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, env=env, timeout=60
    )
    assert done.returncode == 0 and "widget made" in done.stdout, done.stderr[-2000:]
