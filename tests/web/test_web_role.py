"""EV_Web's read-only Kafka role and its HTTPS, against the secured broker (``secure_kafka``:
SASL_SSL, SCRAM users, the role ACLs of ``wire.kafka.acls``, docs/security.md)."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import urllib.request
import uuid

import pytest
from confluent_kafka.admin import AclOperation, AdminClient, ResourceType

from tests.kafka_secure import SecureKafka
from tests.waiting import wait_for
from tests.web.conftest import START_TIMEOUT_S, _wait_for_url
from wire.kafka.acls import role_acls, role_rules
from wire.kafka.messages import NETWORK_STATE, CentralAlive, CpState
from wire.kafka.producer import EventProducer
from wire.kafka.security import with_security
from wire.kafka.tail import TopicTail
from wire.kafka.topics import Topics
from wire.kafka.users import ensure_users
from wire.timefmt import now_ts
from wire.tls import client_context

STATE = CpState(cp_id="CP-01", location="Old Town", x=470, y=360, price=0.42, status="ACTIVE")


def _write(kafka: SecureKafka, role: str, topic: str, key: str, event) -> EventProducer:  # type: ignore[no-untyped-def]
    producer = EventProducer(
        kafka.bootstrap, client_id=f"test-{role}", security=kafka.security(role)
    )
    producer.send(topic, key, event)
    assert producer.flush(20) == 0, "no delivery report within 20 s"
    return producer


def _tail(kafka: SecureKafka, topics: Topics, topic: str, codec) -> TopicTail:  # type: ignore[no-untyped-def]
    return TopicTail(
        kafka.bootstrap,
        topic,
        topics.partitions_of(topic),
        codec,
        from_beginning=True,
        client_id=f"{topics.prefix}web",
        security=kafka.security("web"),
    )


def test_the_web_role_reads_the_network_state_and_nothing_else(secure_kafka: SecureKafka) -> None:
    topics = secure_kafka.topics()
    _write(secure_kafka, "central", topics.network_state, "CP-01", STATE).close()
    alive = CentralAlive(central_id="central", started_at=now_ts())
    _write(secure_kafka, "central", topics.central_status, "central", alive).close()
    assert (
        topics.central_status
        in AdminClient(
            with_security(
                {"bootstrap.servers": secure_kafka.bootstrap}, secure_kafka.security("driver")
            )
        )
        .list_topics(timeout=20)
        .topics
    )  # (a role that may read it sees it)
    network = _tail(secure_kafka, topics, topics.network_state, NETWORK_STATE)
    seen: list = []
    try:
        wait_for(lambda: network.poll(seen.append, timeout=0.2) or seen, 20, "the cp_state")
        assert seen[0].cp_id == "CP-01"
    finally:
        network.close()
    # every other topic is hidden from it: the broker lists only what a role may describe
    # (a read of an undescribable topic does not fail, it finds nothing: checked here instead)
    admin = AdminClient(
        with_security({"bootstrap.servers": secure_kafka.bootstrap}, secure_kafka.security("web"))
    )
    listed = admin.list_topics(timeout=20).topics
    assert sorted(t for t in listed if t.startswith(topics.prefix)) == [topics.network_state]


def test_the_web_role_may_write_nothing() -> None:
    """(Checked on the table: a producer as ``web`` is refused its producer id, which
    librdkafka reports as a fatal error rather than as a refused write.)"""
    rules = role_rules("web", "p.")
    assert {op for _r, _n, _p, op in rules} == {AclOperation.READ, AclOperation.DESCRIBE}
    assert {name for rtype, name, _p, _op in rules if rtype is ResourceType.TOPIC} == {
        Topics("p.").network_state
    }
    assert {acl.principal for acl in role_acls("p.", ("web",))} == {"User:web"}


@pytest.mark.process
def test_ev_web_serves_https_with_the_ca_certificate_as_the_web_role(
    secure_kafka: SecureKafka,
) -> None:
    topics = secure_kafka.topics()
    _write(secure_kafka, "central", topics.network_state, "CP-01", STATE).close()
    secrets = secure_kafka.secrets
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "web_app",
            "--kafka",
            secure_kafka.bootstrap,
            "--topic-prefix",
            topics.prefix,
            "--port",
            "0",
            "--tls-cert",
            str(secrets.cert("web")),
            "--tls-key",
            str(secrets.key("web")),
            *secure_kafka.credentials_args("web"),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        url = _wait_for_url(process, START_TIMEOUT_S)
        assert url.startswith("https://127.0.0.1:")
        context = client_context(secrets.ca_cert)  # verifies the chain and the host name

        def cps() -> list:
            with urllib.request.urlopen(url + "api/cps", context=context, timeout=5) as answer:
                assert answer.headers["Strict-Transport-Security"]
                return json.load(answer)["cps"]

        found = wait_for(cps, 20, "CP-01 on the page's data")
        assert [(cp["cp_id"], cp["state"]) for cp in found] == [("CP-01", "available")]
    finally:
        process.send_signal(signal.SIGTERM)
        _out, err = process.communicate(timeout=10)
    assert process.returncode == 0, err
    assert "Traceback" not in err


def test_ev_web_without_a_certificate_says_what_to_do(tmp_path) -> None:  # type: ignore[no-untyped-def]
    role = tmp_path / "kafka-web.properties"
    role.write_text("security.protocol=PLAINTEXT\n")
    missing = tmp_path / "none.pem"
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "web_app",
            "--kafka",
            "127.0.0.1:1",
            "--kafka-credentials",
            str(role),
            "--tls-cert",
            str(missing),
            "--tls-key",
            str(missing),
        ],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert done.returncode == 2
    assert done.stderr.strip().endswith(f"EV_Web: error: TLS certificate {missing} does not exist")
    assert "Traceback" not in done.stderr


def test_a_broker_formatted_before_a_role_existed_gets_its_user_on_start(
    secure_kafka: SecureKafka,
) -> None:
    """``kafka-local start`` calls ``ensure_users``: only missing users are created."""
    newcomer = f"role-{uuid.uuid4().hex[:8]}"
    admin = secure_kafka.security("admin")
    passwords = {"web": "not-its-password", newcomer: "s3cret-enough"}
    assert ensure_users(secure_kafka.bootstrap, admin, passwords) == [newcomer]
    assert ensure_users(secure_kafka.bootstrap, admin, passwords) == []
    # the existing web user kept its own password: its role file still reads the topic
    topics = secure_kafka.topics()
    _write(secure_kafka, "central", topics.network_state, "CP-01", STATE).close()
    network = _tail(secure_kafka, topics, topics.network_state, NETWORK_STATE)
    seen: list = []
    try:
        wait_for(lambda: network.poll(seen.append, timeout=0.2) or seen, 20, "the cp_state")
    finally:
        network.close()
