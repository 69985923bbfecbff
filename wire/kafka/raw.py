"""Values handed over unparsed, for consumers that open sealed values themselves.

An engine or a driver in secure mode must tell *why* a value on its partition is not for it
(unsealed, forged, sealed for someone else, replayed) and react to each case (an engine
answers ``command_refused``; a driver ignores another driver's notice quietly) instead of
letting ``EventConsumer`` dead-letter it. With ``RawCodec`` as the topic's codec the handler
receives a ``RawValue`` holding the bytes, and opens them with ``wire.kafka.sealed``.
"""

from __future__ import annotations

from dataclasses import dataclass

from wire.kafka.messages import Event, EventCodec


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
