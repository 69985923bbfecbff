"""Pure, fast tests of partitioning and event parsing (no broker)."""

from __future__ import annotations

import json
import zlib

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.kafka_samples import CLASSES_BY_TOPIC, CODECS_BY_TOPIC, sample
from wire.errors import InvalidEvent, WireError
from wire.kafka import consumer as consumer_module
from wire.kafka import messages as m
from wire.kafka.partitioner import partition_for


@pytest.mark.parametrize(
    ("key", "partitions", "expected"),
    [
        ("123456789", 1, 0),  # CRC-32 check value 0xCBF43926 = 3421780262
        ("123456789", 12, 3421780262 % 12),
        ("123456789", 6, 2),
        ("a", 12, 0xE8B7BE43 % 12),
        ("", 7, 0),  # crc32("") == 0
    ],
)
def test_partition_for_known_crc32(key: str, partitions: int, expected: int) -> None:
    assert partition_for(key, partitions) == expected


def test_partition_for_rejects_no_partitions() -> None:
    with pytest.raises(ValueError):
        partition_for("cp-1", 0)


@given(st.text(), st.integers(min_value=1, max_value=1000))
def test_partition_for_is_crc32_of_utf8(key: str, partitions: int) -> None:
    got = partition_for(key, partitions)
    assert 0 <= got < partitions
    assert got == zlib.crc32(key.encode("utf-8")) % partitions


@pytest.mark.parametrize(
    ("cls", "codec"),
    [(cls, CODECS_BY_TOPIC[t]) for t, classes in CLASSES_BY_TOPIC.items() for cls in classes],
    ids=lambda x: getattr(x, "TYPE", ""),
)
def test_every_type_round_trips_through_json(cls: type[m.Event], codec: m.EventCodec) -> None:
    event = sample(cls, 3)
    assert codec.parse(event.to_json()) == event
    assert json.loads(event.to_json())["type"] == cls.TYPE


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        (None, "empty value"),
        (b"{not json", "not valid JSON"),
        (b"\xff\xfe", "not valid JSON"),
        (b"[1, 2]", "not a JSON object"),
        (b'{"type": "nope", "v": 1}', "unknown type"),
        (b'{"v": 1}', "unknown type"),
        (b'{"type": "stop", "v": 2, "cp_id": "a", "ts": "x"}', "unsupported version"),
        (b'{"type": "stop", "v": 1, "ts": "x"}', "stop.cp_id is required"),
        (b'{"type": "stop", "v": 1, "ts": "x", "cp_id": 5}', "stop.cp_id must be a string"),
        (
            b'{"type":"authorize","v":1,"ts":"x","session_id":"s","request_id":"r",'
            b'"driver_id":"d","cp_id":"c","price":true,"expires_at":"x"}',
            "authorize.price must be a finite number",
        ),
    ],
)
def test_parse_errors_say_why(value: bytes | None, reason: str) -> None:
    with pytest.raises(InvalidEvent, match=reason):
        m.CP_COMMANDS.parse(value)


def test_supply_progress_differs_per_topic() -> None:
    notice = m.SupplyProgressNotice(session_id="s", cp_id="c", driver_id="d", kw=1, kwh=2, eur=3)
    with pytest.raises(InvalidEvent, match="seq"):
        m.CP_EVENTS.parse(notice.to_json())


@given(st.one_of(st.binary(max_size=200), st.text(max_size=200)))
def test_parse_never_raises_a_foreign_error(value: bytes | str) -> None:
    for codec in CODECS_BY_TOPIC.values():
        try:
            event = codec.parse(value)
        except WireError:
            continue
        assert isinstance(event, m.Event)


class _Message:
    def __init__(self, offset: int, value: bytes) -> None:
        self._offset = offset
        self._value = value

    def error(self) -> None:
        return None

    def topic(self) -> str:
        return "notices"

    def partition(self) -> int:
        return 0

    def offset(self) -> int:
        return self._offset

    def key(self) -> bytes:
        return b"d1"

    def value(self) -> bytes:
        return self._value


class _BatchWaitingConsumer:
    """librdkafka's ``consume(n, timeout)``: n queued messages at once, else the whole timeout."""

    def __init__(self, queued: int) -> None:
        notice = m.RequestReceived(request_id="r", cp_id="c", driver_id="d1").to_json()
        self.queued = [_Message(i, notice) for i in range(queued)]
        self.waited = 0.0
        self.stored: list[int] = []

    def consume(self, num_messages: int, timeout: float) -> list[_Message]:
        if len(self.queued) < num_messages:
            self.waited += timeout
        batch, self.queued = self.queued[:num_messages], self.queued[num_messages:]
        return batch

    def store_offsets(self, message: _Message) -> None:
        self.stored.append(message.offset())


def _over_fake(
    monkeypatch: pytest.MonkeyPatch, queued: int
) -> tuple[consumer_module.EventConsumer, _BatchWaitingConsumer]:
    """An EventConsumer of driver notices whose librdkafka consumer is a fake holding
    ``queued`` messages; the fake is returned too, to read what was waited and stored."""
    fake = _BatchWaitingConsumer(queued)
    monkeypatch.setattr(consumer_module, "Consumer", lambda config: fake)
    consumer = consumer_module.EventConsumer(
        "nowhere:9092", group_id="g", codecs={"notices": m.DRIVER_NOTICES}, dead_letter_topic=None
    )
    return consumer, fake


@pytest.mark.parametrize(
    ("queued", "handled", "waited"),
    [(1, 1, 0.0), (7, 7, 0.0), (250, 100, 0.0), (0, 0, 5.0)],
)
def test_poll_waits_only_for_the_first_message(
    monkeypatch: pytest.MonkeyPatch, queued: int, handled: int, waited: float
) -> None:
    consumer, fake = _over_fake(monkeypatch, queued)
    got: list[consumer_module.Received] = []
    assert consumer.poll(got.append, timeout=5.0, max_messages=100) == handled
    assert len(got) == handled
    assert fake.waited == waited  # never the whole timeout while a message is there
    assert fake.stored == list(range(handled))  # each offset stored after its handler ran
    assert len(fake.queued) == queued - handled


def test_poll_batch_hands_one_batch_and_stores_offsets_only_after_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    consumer, fake = _over_fake(monkeypatch, 7)
    calls: list[list[int]] = []
    stored_during: list[list[int]] = []

    def handler(
        batch: list[consumer_module.Received],
    ) -> list[tuple[consumer_module.Received, Exception]]:
        calls.append([r.offset for r in batch])
        stored_during.append(list(fake.stored))
        return [(batch[3], RuntimeError("boom"))]  # one event failed: dead-lettered

    dead: list[str] = []
    monkeypatch.setattr(consumer, "_dead_letter", lambda msg, key, reason: dead.append(reason))
    assert consumer.poll_batch(handler, timeout=5.0, max_messages=100) == 7
    assert calls == [list(range(7))]  # one call for the whole batch
    assert stored_during == [[]]  # no offset stored before the handler returned
    assert fake.stored == list(range(7))
    assert dead == ["handler failed: RuntimeError: boom"]


def test_poll_batch_stores_offsets_only_once_the_batch_is_durable(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from concurrent.futures import Future

    consumer, fake = _over_fake(monkeypatch, 3)
    durable: Future[None] = Future()
    assert consumer.poll_batch(lambda batch: consumer_module.Handled([], durable), 5.0, 2) == 2
    assert fake.stored == []  # handled, not durable yet: nothing stored
    assert consumer.poll_batch(lambda batch: consumer_module.Handled([]), 5.0, 2) == 1
    assert fake.stored == []  # a later batch never overtakes an earlier one
    durable.set_result(None)
    consumer.poll_batch(lambda batch: consumer_module.Handled([]), 0.0, 2)
    assert fake.stored == [0, 1, 2]


def test_poll_batch_stops_reading_while_too_many_batches_are_not_durable(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from concurrent.futures import Future

    consumer, fake = _over_fake(monkeypatch, consumer_module.MAX_UNDURABLE + 5)
    never: Future[None] = Future()  # a database that does not come back
    read = [
        consumer.poll_batch(lambda batch: consumer_module.Handled([], never), 0.0, 1)
        for _ in range(consumer_module.MAX_UNDURABLE + 2)
    ]
    assert read == [1] * consumer_module.MAX_UNDURABLE + [0, 0]  # consumption paused
    assert fake.stored == [] and len(fake.queued) == 5


def test_a_fresh_topic_unknown_to_the_broker_asked_is_asked_again() -> None:
    """Found by `make test` (the three-broker e2e): right after creation a topic was in the
    metadata one broker gave and not yet in the one describe_configs reached, and Central's
    topic check failed with UNKNOWN_TOPIC_OR_PART. It asks again until its deadline."""
    import time
    from concurrent.futures import Future
    from types import SimpleNamespace

    from confluent_kafka import KafkaError as RdKafkaError
    from confluent_kafka import KafkaException

    from wire.kafka import admin as kafka_admin

    answers: list[object] = [
        KafkaException(RdKafkaError(RdKafkaError.UNKNOWN_TOPIC_OR_PART)),
        KafkaException(RdKafkaError(RdKafkaError.UNKNOWN_TOPIC_OR_PART)),
        {"cleanup.policy": SimpleNamespace(value="compact")},
    ]

    def describe_configs(resources: list[object], request_timeout: float) -> dict[object, Future]:
        future: Future = Future()
        answer = answers.pop(0)
        if isinstance(answer, Exception):
            future.set_exception(answer)
        else:
            future.set_result(answer)
        return {resources[0]: future}

    fake = SimpleNamespace(
        client=SimpleNamespace(describe_configs=describe_configs), refused=lambda exc, what: None
    )
    kafka_admin._verify_compaction(fake, ["t.evc.network.state"], time.monotonic() + 5)
    assert answers == []
