"""The technician panel (pytest-qt) on a real EngineService: real ZeroMQ HEALTH, real Kafka."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from PySide6.QtCore import Qt

from cp_node.engine_service import EngineService
from cp_node.engine_state import EngineConfig
from cp_node.panel import EnginePanel
from tests.cp.authorizations import authorize
from tests.cp.fake_monitor import FakeMonitor
from wire.health_messages import HealthKo, HealthOk
from wire.kafka.producer import EventProducer
from wire.kafka.topics import Topics

pytestmark = pytest.mark.kafka


@pytest.fixture
def service(kafka_bootstrap: str, topics: Topics, tmp_path: Path) -> Iterator[EngineService]:
    svc = EngineService(
        bootstrap=kafka_bootstrap,
        port=0,
        bind="127.0.0.1",
        topics=topics,
        config=EngineConfig(speed=60.0),
        journal_dir=tmp_path,
        insecure=True,  # plain values; the sealed path is tests/cp/test_sealed_commands.py
    )
    svc.start()
    yield svc
    svc.close()


@pytest.fixture
def monitor(service: EngineService) -> Iterator[FakeMonitor]:
    fake = FakeMonitor(service.responder.port, "CP-P", every=0.3)
    yield fake
    fake.close()


def test_break_makes_the_next_health_answer_ko_and_repair_ok(qtbot, service, monitor) -> None:
    panel = EnginePanel(service)
    qtbot.addWidget(panel)
    qtbot.waitUntil(lambda: panel.title.text().endswith("CP-P"), timeout=5000)
    qtbot.mouseClick(panel.break_button, Qt.MouseButton.LeftButton)
    seen = len(monitor.replies)
    qtbot.waitUntil(lambda: len(monitor.replies) > seen, timeout=3000)
    assert isinstance(monitor.replies[seen], HealthKo)
    assert "Broken" in panel.badge.text()
    assert not panel.break_button.isEnabled() and panel.repair_button.isEnabled()
    qtbot.mouseClick(panel.repair_button, Qt.MouseButton.LeftButton)
    seen = len(monitor.replies)
    qtbot.waitUntil(lambda: len(monitor.replies) > seen, timeout=3000)
    assert isinstance(monitor.replies[seen], HealthOk)


def test_plug_in_on_an_authorized_cp_starts_the_supply_and_kwh_rises(
    qtbot, service, monitor, kafka_bootstrap, topics
) -> None:
    panel = EnginePanel(service)
    qtbot.addWidget(panel)
    qtbot.waitUntil(lambda: panel.fields["central"].text() == "Connected", timeout=5000)
    assert not panel.plug_button.isEnabled()
    producer = EventProducer(kafka_bootstrap)
    authorize(producer, topics, "CP-P", "DRV-42", session="S-panel")
    producer.close(5)
    qtbot.waitUntil(panel.plug_button.isEnabled, timeout=15000)
    assert panel.fields["driver"].text() == "DRV-42"
    qtbot.mouseClick(panel.plug_button, Qt.MouseButton.LeftButton)
    assert "Supplying" in panel.badge.text()
    qtbot.waitUntil(lambda: float(panel.kwh.value.text()) > 0.0, timeout=3000)
    first = float(panel.kwh.value.text())
    qtbot.waitUntil(lambda: float(panel.kwh.value.text()) > first, timeout=3000)
    assert float(panel.eur.value.text()) >= 0.0
    assert panel.unplug_button.isEnabled()
    qtbot.mouseClick(panel.unplug_button, Qt.MouseButton.LeftButton)
    assert "Available" in panel.badge.text()
    assert "Supply ended (unplugged)" in panel.log.toPlainText()


def test_kafka_unreachable_is_shown_and_health_goes_on(qtbot, tmp_path) -> None:
    from tests.procs import free_port

    svc = EngineService(
        bootstrap=f"127.0.0.1:{free_port()}",  # nothing listens there
        port=0,
        bind="127.0.0.1",
        topics=Topics("down."),
        journal_dir=tmp_path,
        insecure=True,
    )
    svc.start()
    fake = FakeMonitor(svc.responder.port, "CP-P", every=0.3)
    try:
        panel = EnginePanel(svc)
        qtbot.addWidget(panel)
        qtbot.waitUntil(
            lambda: panel.fields["kafka"].text().startswith("Unreachable"), timeout=10000
        )
        answer = panel.service.manual_request("DRV-1")
        assert "Kafka unreachable: queued" in answer
        qtbot.waitUntil(lambda: "1 events queued" in panel.fields["kafka"].text(), timeout=3000)
        seen = len(fake.replies)
        qtbot.waitUntil(lambda: len(fake.replies) > seen, timeout=3000)
        assert isinstance(fake.replies[-1], HealthOk)
    finally:
        fake.close()
        svc.close()
