"""Two CPs side by side against the test Central and the real broker; grabs their panels.

    EVC_KAFKA=127.0.0.1:19092 QT_QPA_PLATFORM=offscreen .venv/bin/python -m tests.cp.screenshots

Runs the real engine services and monitor services in this process (so the panels can be
grabbed): CP-001 supplying driver DRV-42, CP-002 broken by its technician. Writes
``docs/img/cp-panel.png`` (both), ``cp-panel-supplying.png`` and ``cp-panel-broken.png``.
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
import uuid
from pathlib import Path

from PySide6.QtWidgets import QApplication, QHBoxLayout, QWidget

from cp_core.credentials import CredentialStore
from cp_node.engine_service import EngineService
from cp_node.engine_state import EngineConfig
from cp_node.monitor_service import MonitorService
from cp_node.panel import EnginePanel
from tests.cp.authorizations import authorize
from tests.cp.fake_central import FakeCentral
from wire.kafka.admin import ensure_topics
from wire.kafka.producer import EventProducer
from wire.kafka.topics import Topics

OUT = Path(__file__).resolve().parents[2] / "docs" / "img"


def pump(app: QApplication, seconds: float, until=None) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        app.processEvents()
        if until is not None and until():
            return
        time.sleep(0.05)
    if until is not None:
        raise SystemExit("screenshot scene did not reach the expected state")


def main() -> int:
    kafka = os.environ.get("EVC_KAFKA", "127.0.0.1:19092")
    app = QApplication.instance() or QApplication(sys.argv)
    topics = Topics(prefix=f"shot{uuid.uuid4().hex[:6]}.")
    ensure_topics(kafka, topics)
    central = FakeCentral(price=0.35)
    central.start()
    tmp = Path(tempfile.mkdtemp(prefix="evc-shots-"))
    services, monitors, panels = [], [], []
    for cp_id, location, (x, y) in (
        ("CP-001", "Plaza Mayor 1", (420, 310)),
        ("CP-002", "Avenida del Puerto 12", (780, 520)),
    ):
        svc = EngineService(
            bootstrap=kafka,
            port=0,
            bind="127.0.0.1",
            topics=topics,
            config=EngineConfig(power_kw=22.0, speed=30.0),
            journal_dir=tmp / "journal",
            insecure=True,  # the test Central issues no keys
        )
        svc.start()
        mon = MonitorService(
            cp_id=cp_id,
            engine=("127.0.0.1", svc.responder.port),
            central=("127.0.0.1", central.port),
            credentials=CredentialStore(tmp / "creds"),
            location=location,
            x=x,
            y=y,
            say=lambda line: None,
        )
        mon.start()
        services.append(svc)
        monitors.append(mon)
        panel = EnginePanel(svc)
        panel.resize(560, 660)
        panels.append(panel)
    try:
        pump(app, 10, lambda: all(p.fields["central"].text() == "Connected" for p in panels))
        producer = EventProducer(kafka)
        authorize(producer, topics, "CP-001", "DRV-42", session="S-0001")
        producer.close(5)
        pump(app, 15, panels[0].plug_button.isEnabled)
        panels[0].plug_button.click()
        panels[1].driver_edit.setText("DRV-7")
        panels[1].break_button.click()
        pump(app, 4.5)
        OUT.mkdir(parents=True, exist_ok=True)
        panels[0].grab().save(str(OUT / "cp-panel-supplying.png"))
        panels[1].grab().save(str(OUT / "cp-panel-broken.png"))
        both = QWidget()
        row = QHBoxLayout(both)
        for panel in panels:
            row.addWidget(panel)
        both.resize(1140, 680)
        both.setObjectName("both")
        both.setStyleSheet("QWidget#both { background: #b0bec5; }")
        pump(app, 0.5)
        both.grab().save(str(OUT / "cp-panel.png"))
        print(f"wrote {OUT}/cp-panel*.png")
    finally:
        for mon in monitors:
            mon.close()
        for svc in services:
            svc.close()
        central.shutdown()
    return 0


if __name__ == "__main__":
    sys.exit(main())
