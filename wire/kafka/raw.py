"""Values handed over unparsed, for consumers that open sealed values themselves.

An engine or a driver in secure mode must tell *why* a value on its partition is not for it
(unsealed, forged, sealed for someone else, replayed) and react to each case (an engine
answers ``command_refused``; a driver ignores another driver's notice quietly) instead of
letting ``EventConsumer`` dead-letter it. With ``RawCodec`` as the topic's codec the handler
receives a ``RawValue`` holding the bytes, and opens them with ``wire.kafka.sealed``.
``command_consumer`` opens the CP side's reader of commands that way when it is secure.
"""

from __future__ import annotations

from dataclasses import dataclass

from wire.errors import KafkaError
from wire.kafka.consumer import EventConsumer
from wire.kafka.messages import CP_COMMANDS, Event, EventCodec
from wire.kafka.producer import EventProducer
from wire.kafka.security import KafkaSecurity
from wire.kafka.topics import Topics


@dataclass(frozen=True, kw_only=True)
class RawValue(Event):
    """Not a wire type: the Kafka value as it was read (never produced)."""

    TYPE = "raw"
    value: bytes | None


class RawCodec(EventCodec):
    """A codec that never refuses: every value reaches the handler as a ``RawValue``."""

    def __init__(self) -> None:
        super().__init__()

    def parse(self, value: bytes | str | None) -> RawValue:  # type: ignore[override]
        if isinstance(value, str):
            value = value.encode()
        return RawValue(value=value)


def command_consumer(
    bootstrap: str,
    topics: Topics,
    *,
    group: str,
    client_id: str,
    secure: bool,
    producer: EventProducer | None,
    security: KafkaSecurity | None,
) -> EventConsumer:
    """The reader of evc.cp.commands on a CP's side (an engine for its CP, EV_OCPP for its
    chargers), in group ``<prefix><group>`` (ACLs: ``<prefix>engine-*``). Secure, a value
    reaches the handler unparsed, to be opened and checked there (``cp_core.command_guard``
    answers a bad one with ``command_refused``); else ``CP_COMMANDS`` parses it and a bad one
    is dead-lettered. A configuration librdkafka refuses is a ``KafkaError``, which the
    callers' consumer loops retry."""
    try:
        return EventConsumer(
            bootstrap,
            group_id=f"{topics.prefix}{group}",
            codecs={topics.cp_commands: RawCodec() if secure else CP_COMMANDS},
            dead_letter_topic=topics.dead_letter,
            producer=producer,
            client_id=client_id,
            security=security,
        )
    except ValueError as exc:
        raise KafkaError(f"cannot open the command consumer: {exc}") from exc
