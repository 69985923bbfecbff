"""Kafka's own security against a real secured broker (docs/security.md, layer 1).

``secure_kafka`` is ``scripts/kafka-local start`` in its default, secure mode: SASL_SSL with
SCRAM-SHA-512 users, StandardAuthorizer with ``allow.everyone.if.no.acl.found=false``, and
the role ACLs of ``wire.kafka.acls`` granted per topic prefix.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from tests.kafka_secure import SecureKafka
from tests.waiting import wait_for
from wire import cli
from wire.errors import KafkaAuthError
from wire.kafka.admin import broker_reachable, ensure_topics
from wire.kafka.consumer import EventConsumer
from wire.kafka.messages import (
    CENTRAL_STATUS,
    CP_COMMANDS,
    DRIVER_NOTICES,
    CentralAlive,
    RequestReceived,
    Resume,
)
from wire.kafka.producer import EventProducer
from wire.kafka.security import KafkaSecurity
from wire.kafka.topics import Topics
from wire.timefmt import now_ts

pytestmark = pytest.mark.kafka

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture
def secured(secure_kafka: SecureKafka) -> tuple[SecureKafka, Topics]:
    return secure_kafka, secure_kafka.topics()


def write(kafka: SecureKafka, role: str, topic: str, key: str, event) -> EventProducer:
    """Produce one event as ``role`` and wait for its delivery report."""
    producer = EventProducer(
        kafka.bootstrap, client_id=f"test-{role}", security=kafka.security(role)
    )
    producer.send(topic, key, event)
    assert producer.flush(20) == 0, "no delivery report within 20 s"
    return producer


def refused(producer: EventProducer, topic: str) -> bool:
    problem = producer.auth_problem or ""
    return producer.failures == 1 and f"not authorized to write {topic}" in problem


def alive() -> CentralAlive:
    return CentralAlive(central_id="test", started_at=now_ts())


def test_a_client_without_credentials_cannot_even_read_metadata(secure_kafka: SecureKafka) -> None:
    assert not broker_reachable(secure_kafka.bootstrap, timeout=3)
    assert broker_reachable(
        secure_kafka.bootstrap, timeout=10, security=secure_kafka.security("driver")
    )


def test_a_wrong_password_is_refused_in_one_clear_line(secure_kafka: SecureKafka) -> None:
    good = secure_kafka.security("driver")
    wrong = KafkaSecurity(
        username="driver", password="not-the-password", ca_location=good.ca_location
    )
    with pytest.raises(KafkaAuthError, match="Kafka refused our credentials .*driver.*SASL"):
        ensure_topics(secure_kafka.bootstrap, Topics(), timeout=5, security=wrong)


def test_a_driver_writes_requests_but_not_commands_notices_or_network_state(
    secured: tuple[SecureKafka, Topics],
) -> None:
    kafka, topics = secured
    assert write(kafka, "driver", topics.requests, "CP-01", alive()).failures == 0
    for topic in (topics.cp_commands, topics.driver_notices, topics.network_state):
        assert refused(write(kafka, "driver", topic, "CP-01", alive()), topic), topic


def test_an_engine_writes_events_but_not_notices_or_commands(
    secured: tuple[SecureKafka, Topics],
) -> None:
    kafka, topics = secured
    assert write(kafka, "engine", topics.cp_events, "CP-01", alive()).failures == 0
    for topic in (topics.driver_notices, topics.cp_commands):
        assert refused(write(kafka, "engine", topic, "CP-01", alive()), topic), topic


def read_one(
    kafka: SecureKafka, role: str, group: str, topic: str, key: str, codec
) -> EventConsumer:
    consumer = EventConsumer(
        kafka.bootstrap,
        group_id=group,
        codecs={topic: codec},
        dead_letter_topic=None,
        security=kafka.security(role),
    )
    consumer.assign_key(topic, key, Topics(topic.split("evc.")[0]).partitions_of(topic))
    return consumer


def test_a_driver_cannot_read_commands_but_reads_the_central_status(
    secured: tuple[SecureKafka, Topics],
) -> None:
    kafka, topics = secured
    write(kafka, "central", topics.cp_commands, "CP-01", Resume(cp_id="CP-01"))
    write(kafka, "central", topics.central_status, "central", alive())
    group = f"{topics.prefix}driver-D-001"
    spy = read_one(kafka, "driver", group, topics.cp_commands, "CP-01", CP_COMMANDS)
    status = read_one(
        kafka, "driver", group + "-status", topics.central_status, "central", CENTRAL_STATUS
    )
    got: list = []
    try:
        wait_for(
            lambda: spy.poll(got.append, timeout=0.2) >= 0 and spy.auth_problem,
            20,
            "the broker refusing the driver's read of commands",
        )
        assert f"not authorized to read {topics.cp_commands}" in (spy.auth_problem or "")
        assert got == []
        seen: list = []
        wait_for(lambda: status.poll(seen.append, timeout=0.2) or seen, 20, "central_alive")
    finally:
        spy.close()
        status.close()


def test_central_writes_and_reads_every_topic(secured: tuple[SecureKafka, Topics]) -> None:
    kafka, topics = secured
    notice = RequestReceived(request_id="r1", cp_id="CP-01", driver_id="D-001")
    for topic in (t.name for t in topics.specs()):
        assert write(kafka, "central", topic, "D-001", notice).failures == 0, topic
    consumer = read_one(
        kafka, "central", f"{topics.prefix}central", topics.driver_notices, "D-001", DRIVER_NOTICES
    )
    got: list = []
    try:
        wait_for(
            lambda: consumer.poll(got.append, timeout=0.2) or got, 20, "the notice, as Central"
        )
        assert consumer.auth_problem is None
    finally:
        consumer.close()


def test_a_prefix_without_its_acls_is_closed_until_granted(secure_kafka: SecureKafka) -> None:
    topics = Topics(prefix=f"n{uuid.uuid4().hex[:8]}.")
    central = secure_kafka.security("central")
    with pytest.raises(KafkaAuthError, match="not authorized to create"):
        ensure_topics(secure_kafka.bootstrap, topics, timeout=10, security=central)
    secure_kafka.grant(topics.prefix)
    secure_kafka.grant(topics.prefix)  # granting twice is harmless
    ensure_topics(secure_kafka.bootstrap, topics, timeout=20, security=central)
    # the driver sees the topics it may describe (ensure_topics verifies without creating)
    ensure_topics(
        secure_kafka.bootstrap, topics, timeout=20, security=secure_kafka.security("driver")
    )


def test_kafka_local_status_works_in_secure_mode(secure_kafka: SecureKafka) -> None:
    status = subprocess.run(
        [
            sys.executable,
            str(REPO / "scripts" / "kafka-local"),
            "status",
            "--port",
            str(secure_kafka.port),
            "--run-dir",
            str(secure_kafka.run_dir),
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert status.returncode == 0, status.stdout + status.stderr
    assert "secure" in status.stdout


def test_a_program_without_its_role_file_says_what_to_do(tmp_path: Path) -> None:
    env = {**os.environ, "EVC_SECRETS": str(tmp_path / "empty")}
    env.pop("EVC_KAFKA_CREDENTIALS", None)
    done = subprocess.run(
        [sys.executable, "-m", "driver_app.main", "--kafka", "127.0.0.1:1", "--driver-id", "D-1"],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
        cwd=REPO,
    )
    assert done.returncode == 2
    assert "kafka-driver.properties does not exist" in done.stderr
    assert "--kafka-credentials" in done.stderr and "--insecure" in done.stderr
    assert "Traceback" not in done.stderr


def test_insecure_says_so_once_and_loudly(capsys: pytest.CaptureFixture[str]) -> None:
    parser = argparse.ArgumentParser()
    cli.add_insecure(parser)
    cli.add_kafka_security(parser, "driver")  # --insecure is shared: added once
    args = parser.parse_args(["--insecure"])
    cli._warned.clear()
    assert cli.kafka_security(args, "driver", "EV_Driver") is None
    assert cli.kafka_security(args, "driver", "EV_Driver") is None
    err = capsys.readouterr().err
    assert err.count("WARNING: --insecure: Kafka without TLS or authentication") == 1
