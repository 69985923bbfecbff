"""``Reports``: what Central's other threads report — a refused Kafka value, a command that
could not be sealed, Kafka or the database going down or coming back — said and audited on
the owner (the hub is the owner's: these only post to it)."""

from __future__ import annotations

import time
from collections.abc import Callable

from central_app.hub import Hub
from central_app.kafka_loop import KafkaLink
from central_app.owner import Owner
from central_app.sealing import Refusal
from central_app.unsent import NeverConnected
from central_app.views import LogLevel
from wire.kafka.messages import Event
from wire.kafka.topics import Topics

UNSEALABLE_EVERY_S = 60.0  # a CP's or driver's unsealable commands, said this often at most


class Reports:
    def __init__(self, owner: Owner, topics: Topics) -> None:
        self._owner = owner
        self._topics = topics
        # set once they exist: the reports of a start that failed early are only logged
        self.hub: Hub | None = None
        self.kafka: KafkaLink | None = None
        self.links_changed: Callable[[], None] = lambda: None
        self._unsealable_said: dict[str, float] = {}
        self._never_connected = NeverConnected()

    def refused(self, refusal: Refusal) -> None:
        """From the consumer thread: a value was refused (and dead-lettered). Audited and
        shown on the owner; storms are folded in the messages (every one is audited)."""

        def tell() -> None:
            hub = self.hub
            assert hub is not None
            hub.counts.refused.add(refusal.action)
            hub.ledger.audit(refusal.kid, refusal.action, refusal.detail)
            topic = refusal.topic.removeprefix(self._topics.prefix)
            hub.tell(
                "refused Kafka values",
                f"refused a value on {topic} ({refusal.action.replace('_', ' ')}): "
                f"{refusal.reason}; dead-lettered",
                LogLevel.WARNING,
                refusal.kid if refusal.kid != "unknown" else "kafka",
            )

        self._owner.post(tell)

    def unsealable(self, topic: str, key: str, event: Event, why: str) -> None:
        """From the sender (the owner): a command or notice for a CP or driver without a key
        was not sent. Said and audited once a minute per CP or driver, not per event; a CP
        that never connected (seeded, never registered) is said once, with the others of
        the same command (``central_app.unsent``)."""
        ledger = self.hub.ledger if self.hub is not None else None
        if (
            topic == self._topics.cp_commands
            and ledger is not None
            and not ledger.can_authenticate(key)
            and not ledger.revoked(key)
        ):
            if self._never_connected.add(key, event.TYPE):
                self._owner.post(self._say_never_connected)
            return
        kid = self.kafka.sealer.kid_for(topic, key) if self.kafka else None
        now = time.monotonic()
        if now - self._unsealable_said.get(kid or key, -1e9) < UNSEALABLE_EVERY_S:
            return
        self._unsealable_said[kid or key] = now

        def tell() -> None:
            hub = self.hub
            assert hub is not None
            fix = f"evc-admin driver key {key}" if topic == self._topics.driver_notices else ""
            hub.ledger.audit(kid or key, "unsealable", f"{event.TYPE} not sent: {why}")
            hub.say(
                f"{event.TYPE} for {key} not sent: {why}"
                + (f" (issue one with `{fix}`)" if fix else " (the CP must register again)"),
                LogLevel.WARNING,
                key,
            )

        self._owner.post(tell)

    def _say_never_connected(self) -> None:
        line = self._never_connected.line()
        if line is not None and self.hub is not None:
            self.hub.say(line)

    def kafka_problem(self, text: str) -> None:
        """From the Kafka clients' threads: a broker problem worth a line."""
        hub = self.hub
        if hub is not None:
            self._owner.post(lambda: hub.say(text, LogLevel.WARNING, "kafka"))

    def db_health(self, ok: bool, detail: str) -> None:
        """From the writer thread: the database went down or came back."""

        def tell() -> None:
            assert self.hub is not None
            if ok:
                self.hub.say("database is back; queued writes done", source="database")
            else:
                self.hub.say(
                    f"database unavailable ({detail}); retrying, Kafka consumption paused",
                    LogLevel.ERROR,
                    "database",
                )
            self.links_changed()

        self._owner.post(tell)
