"""The Kafka wire layer against the real broker (session fixture ``kafka_bootstrap``)."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator

import pytest
from confluent_kafka import Producer
from confluent_kafka.admin import AdminClient, NewTopic

from tests.kafka_samples import CLASSES_BY_TOPIC, codecs_of, sample
from tests.procs import free_port
from tests.waiting import wait_for
from wire.errors import BrokerUnavailable, TopicSetupError
from wire.kafka import messages as m
from wire.kafka.admin import broker_reachable, ensure_topics, topic_config
from wire.kafka.consumer import EventConsumer, Received
from wire.kafka.partitioner import partition_for
from wire.kafka.producer import EventProducer
from wire.kafka.topics import Topics

pytestmark = pytest.mark.kafka


@pytest.fixture
def producer(kafka_bootstrap: str) -> Iterator[EventProducer]:
    prod = EventProducer(kafka_bootstrap, client_id="test")
    yield prod
    prod.close()


def group() -> str:
    return f"g-{uuid.uuid4().hex[:8]}"


def notices_reader(bootstrap: str, topic: str) -> EventConsumer:
    """A reader of driver notices on ``topic``, in a group of its own, with no dead letters."""
    return EventConsumer(
        bootstrap, group_id=group(), codecs={topic: m.DRIVER_NOTICES}, dead_letter_topic=None
    )


def collect(consumer: EventConsumer, into: list[Received], count: int, what: str) -> None:
    """Poll until ``into`` holds ``count`` messages (handled ones are appended)."""
    wait_for(
        lambda: consumer.poll(into.append, timeout=0.1) >= 0 and len(into) >= count,
        timeout=20,
        what=what,
    )


def drain(consumer: EventConsumer, into: list[Received]) -> None:
    """Poll until every assigned partition has been read to its end."""
    wait_for(
        lambda: consumer.poll(into.append, timeout=0.1) >= 0 and consumer.caught_up,
        timeout=20,
        what="consumer caught up",
    )


def raw_producer(bootstrap: str) -> tuple[Producer, list[tuple[bytes, int]]]:
    """Plain librdkafka with its defaults (default partitioner); records (key, partition)."""
    delivered: list[tuple[bytes, int]] = []

    def on_delivery(err, msg) -> None:  # noqa: ANN001
        assert err is None, err
        delivered.append((msg.key(), msg.partition()))

    return Producer({"bootstrap.servers": bootstrap, "on_delivery": on_delivery}), delivered


def test_every_message_type_round_trips(
    kafka_bootstrap: str, topics: Topics, producer: EventProducer
) -> None:
    sent: list[tuple[str, m.Event]] = []
    for attr, classes in CLASSES_BY_TOPIC.items():
        for n, cls in enumerate(classes, start=1):
            event = sample(cls, n)
            topic = getattr(topics, attr)
            key = getattr(event, "cp_id", None) or getattr(event, "central_id", None) or "k"
            producer.send(topic, key, event)
            sent.append((topic, event))
    assert producer.flush(10) == 0
    consumer = EventConsumer(
        kafka_bootstrap, group_id=group(), codecs=codecs_of(topics), dead_letter_topic=None
    )
    try:
        consumer.subscribe()
        got: list[Received] = []
        collect(consumer, got, len(sent), "every event type back")
    finally:
        consumer.close()
    assert sorted((r.topic, r.event.to_json()) for r in got) == sorted(
        (t, e.to_json()) for t, e in sent
    )
    for r in got:
        assert (r.topic, r.event) in sent


def test_bad_values_land_in_dead_letter_and_the_consumer_goes_on(
    kafka_bootstrap: str, topics: Topics, producer: EventProducer
) -> None:
    raw, _ = raw_producer(kafka_bootstrap)
    raw.produce(topics.requests, key=b"cp-1", value=b"{not json")
    raw.produce(topics.requests, key=b"cp-1", value=b'{"type":"teleport","v":1}')
    raw.flush(10)
    boom = m.ChargeRequest(request_id="boom", driver_id="d1", cp_id="cp-1")
    good = m.ChargeRequest(request_id="r1", driver_id="d1", cp_id="cp-1")
    producer.send(topics.requests, "cp-1", boom)
    producer.send(topics.requests, "cp-1", good)
    producer.flush(10)

    handled: list[Received] = []

    def handler(received: Received) -> None:
        if received.event.request_id == "boom":
            raise RuntimeError("kaput")
        handled.append(received)

    consumer = EventConsumer(
        kafka_bootstrap,
        group_id=group(),
        codecs={topics.requests: m.REQUESTS},
        dead_letter_topic=topics.dead_letter,
    )
    try:
        consumer.assign_key(topics.requests, "cp-1", topics.partitions_of(topics.requests))
        wait_for(
            lambda: consumer.poll(handler, timeout=0.1) >= 0 and len(handled) >= 1,
            timeout=20,
            what="the valid request after the bad ones",
        )
    finally:
        consumer.close()
    assert [r.event for r in handled] == [good]

    letters: list[Received] = []
    reader = EventConsumer(
        kafka_bootstrap,
        group_id=group(),
        codecs={topics.dead_letter: m.DEAD_LETTER},
        dead_letter_topic=None,
    )
    try:
        reader.subscribe()
        collect(reader, letters, 3, "three dead letters")
    finally:
        reader.close()
    by_offset = {r.event.offset: r for r in letters}
    assert sorted(by_offset) == [0, 1, 2]
    first = by_offset[0].event
    assert isinstance(first, m.DeadLetter)
    assert first.topic == topics.requests and first.key == "cp-1"
    assert first.value == "{not json" and "not valid JSON" in first.reason
    assert by_offset[0].key == "cp-1"
    assert "unknown type 'teleport'" in by_offset[1].event.reason
    assert "handler failed: RuntimeError: kaput" in by_offset[2].event.reason
    assert '"request_id":"boom"' in by_offset[2].event.value


def test_assign_key_reads_only_that_key(
    kafka_bootstrap: str, topics: Topics, producer: EventProducer
) -> None:
    topic = topics.cp_commands
    n = topics.partitions_of(topic)
    mine = "cp-0001"
    target = partition_for(mine, n)
    keys = [f"cp-{i:04d}" for i in range(2, 400)]
    neighbour = next(k for k in keys if partition_for(k, n) == target)  # same partition
    strangers = [k for k in keys if partition_for(k, n) != target][:3]
    for key in [mine, neighbour, *strangers]:
        producer.send(topic, key, m.Stop(cp_id=key))
    producer.flush(10)
    raw, delivered = raw_producer(kafka_bootstrap)
    raw.produce(topic, key=mine.encode(), value=m.Resume(cp_id=mine).to_json())
    raw.produce(topic, key=neighbour.encode(), value=m.Resume(cp_id=neighbour).to_json())
    raw.flush(10)
    # librdkafka's default partitioner put both where partition_for says.
    assert sorted(delivered) == sorted([(mine.encode(), target), (neighbour.encode(), target)])

    consumer = EventConsumer(
        kafka_bootstrap,
        group_id=f"engine-{mine}-{uuid.uuid4().hex[:6]}",
        codecs={topic: m.CP_COMMANDS},
        dead_letter_topic=topics.dead_letter,
    )
    got: list[Received] = []
    try:
        consumer.assign_key(topic, mine, n)
        collect(consumer, got, 2, "both events for my key")
        drain(consumer, got)
    finally:
        consumer.close()
    assert [(type(r.event), r.key, r.partition) for r in got] == [
        (m.Stop, mine, target),
        (m.Resume, mine, target),
    ]
    assert all(r.event.cp_id == mine for r in got)


def test_poll_hands_over_a_lone_message_without_waiting_out_the_timeout(
    kafka_bootstrap: str, topics: Topics, producer: EventProducer
) -> None:
    topic = topics.driver_notices
    consumer = notices_reader(kafka_bootstrap, topic)
    got: list[Received] = []
    try:
        consumer.assign_key(topic, "driver-1", topics.partitions_of(topic))
        drain(consumer, got)  # assigned, fetching, at the (empty) end
        producer.send(
            topic, "driver-1", m.RequestReceived(request_id="r", cp_id="c", driver_id="driver-1")
        )
        assert producer.flush(10) == 0
        started = time.monotonic()
        calls = 0
        while not got and calls < 3:
            consumer.poll(got.append, timeout=5.0, max_messages=100)
            calls += 1
        took = time.monotonic() - started
    finally:
        consumer.close()
    assert [r.event.request_id for r in got] == ["r"]
    # A consume that waits for a full batch (100) would sit out the whole 5 s timeout.
    assert took < 2.0, f"one message took {took:.2f} s to reach the handler"


def test_poll_hands_over_what_is_fetched_in_bulk(
    kafka_bootstrap: str, topics: Topics, producer: EventProducer
) -> None:
    topic = topics.driver_notices
    for i in range(50):
        producer.send(
            topic,
            "driver-2",
            m.RequestReceived(request_id=f"r{i}", cp_id="c", driver_id="driver-2"),
        )
    assert producer.flush(10) == 0
    consumer = notices_reader(kafka_bootstrap, topic)
    got: list[Received] = []
    batches: list[int] = []
    try:
        consumer.assign_key(topic, "driver-2", topics.partitions_of(topic))
        deadline = time.monotonic() + 20
        while len(got) < 50 and time.monotonic() < deadline:
            handled = consumer.poll(got.append, timeout=1.0, max_messages=20)
            if handled:
                batches.append(handled)
    finally:
        consumer.close()
    assert [r.event.request_id for r in got] == [f"r{i}" for i in range(50)]
    assert max(batches) == 20  # max_messages is honoured, and reached when messages wait
    assert len(batches) <= 5, f"50 waiting messages came in {len(batches)} polls: {batches}"


def test_committed_offsets_survive_a_restart(
    kafka_bootstrap: str, topics: Topics, producer: EventProducer
) -> None:
    topic = topics.driver_notices
    driver = "driver-7"
    gid = f"driver-{driver}-{uuid.uuid4().hex[:6]}"

    def notice(i: int) -> m.Event:
        return m.RequestReceived(request_id=f"r{i}", cp_id="cp-1", driver_id=driver)

    def open_consumer(from_beginning: bool = False) -> EventConsumer:
        c = EventConsumer(
            kafka_bootstrap,
            group_id=gid,
            codecs={topic: m.DRIVER_NOTICES},
            dead_letter_topic=None,
            from_beginning=from_beginning,
        )
        c.assign_key(topic, driver, topics.partitions_of(topic))
        return c

    for i in range(3):
        producer.send(topic, driver, notice(i))
    producer.flush(10)
    first: list[Received] = []
    consumer = open_consumer()
    try:
        collect(consumer, first, 3, "three notices")
    finally:
        consumer.close()
    producer.send(topic, driver, notice(3))
    producer.flush(10)

    second: list[Received] = []
    consumer = open_consumer()
    try:
        collect(consumer, second, 1, "the notice sent while down")
        drain(consumer, second)
    finally:
        consumer.close()
    assert [r.event.request_id for r in first] == ["r0", "r1", "r2"]
    assert [r.event.request_id for r in second] == ["r3"]

    replay: list[Received] = []
    consumer = open_consumer(from_beginning=True)
    try:
        collect(consumer, replay, 4, "a full replay")
    finally:
        consumer.close()
    assert [r.event.request_id for r in replay] == ["r0", "r1", "r2", "r3"]


def test_subscribed_group_does_not_see_handled_messages_again(
    kafka_bootstrap: str, topics: Topics, producer: EventProducer
) -> None:
    gid = group()

    def read_as_the_group(count: int, what: str) -> list[Received]:
        """A new consumer of the group: what it is handed, up to the partitions' end."""
        got: list[Received] = []
        consumer = EventConsumer(
            kafka_bootstrap,
            group_id=gid,
            codecs={topics.requests: m.REQUESTS},
            dead_letter_topic=None,
        )
        try:
            consumer.subscribe()
            collect(consumer, got, count, what)
            drain(consumer, got)
        finally:
            consumer.close()
        return got

    for i in range(4):
        producer.send(
            topics.requests,
            f"cp-{i}",
            m.ChargeRequest(request_id=f"a{i}", driver_id="d", cp_id=f"cp-{i}"),
        )
    producer.flush(10)
    read_as_the_group(4, "four requests")
    producer.send(
        topics.requests, "cp-9", m.ChargeRequest(request_id="b", driver_id="d", cp_id="cp-9")
    )
    producer.flush(10)
    second = read_as_the_group(1, "the new request")
    assert [r.event.request_id for r in second] == ["b"]


def test_topic_creation_is_idempotent_and_compacts_network_state(
    kafka_bootstrap: str, topics: Topics
) -> None:
    ensure_topics(kafka_bootstrap, topics)  # the fixture already did it once
    ensure_topics(kafka_bootstrap, topics)
    metadata = AdminClient({"bootstrap.servers": kafka_bootstrap}).list_topics(timeout=10)
    for spec in topics.specs():
        assert len(metadata.topics[spec.name].partitions) == spec.partitions
    assert topic_config(kafka_bootstrap, topics.network_state)["cleanup.policy"] == "compact"
    assert topic_config(kafka_bootstrap, topics.requests)["cleanup.policy"] == "delete"


def test_a_topic_of_the_wrong_shape_is_refused(kafka_bootstrap: str) -> None:
    wrong = Topics(prefix=f"w{uuid.uuid4().hex[:8]}.")
    admin = AdminClient({"bootstrap.servers": kafka_bootstrap})
    admin.create_topics([NewTopic(wrong.cp_commands, num_partitions=2)])[wrong.cp_commands].result()
    with pytest.raises(TopicSetupError, match="expected 12"):
        ensure_topics(kafka_bootstrap, wrong)


def test_unreachable_broker_is_reported(kafka_bootstrap: str, unused_port: int) -> None:
    nowhere = f"127.0.0.1:{unused_port}"
    assert broker_reachable(kafka_bootstrap)
    assert not broker_reachable(nowhere, timeout=0.5)
    with pytest.raises(BrokerUnavailable):
        ensure_topics(nowhere, Topics("x."), timeout=0.5)


def test_producer_queues_while_the_broker_is_down(unused_port: int) -> None:
    producer = EventProducer(f"127.0.0.1:{unused_port}")
    try:
        producer.send("evc.requests", "cp-1", m.Stop(cp_id="cp-1"))
        # (pending may count a queued error event too until callbacks are served)
        assert producer.pending >= 1
        wait_for(
            lambda: producer.poll(0.05) is None and not producer.broker_up,
            timeout=10,
            what="broker_up to turn False",
        )
        assert producer.flush(0.1) == 1  # still queued, not dropped
        assert producer.failures == 0
    finally:
        producer.close(timeout=0)


@pytest.fixture
def unused_port() -> int:
    return free_port()
