"""Which of Central's commands an engine obeys in secure mode (docs/security.md; no I/O).

A value read on the CP's partition of ``evc.cp.commands`` is obeyed only when

1. it is a sealed value that opens with this CP's key under the kid ``cp:<cp_id>`` (an
   unsealed value, one that does not open — forged or tampered — and one sealed for another
   CP are refused);
2. the command inside names this CP;
3. its ``seq`` is above the last accepted one (a missing ``seq`` is refused too: a secure
   Central always sends one), so a captured command replayed later has no effect;
4. an ``authorize`` is for a session this CP has not seen before.

``ReplayWindow`` is the memory behind 3 and 4; the engine keeps it in its journal so a
restart does not reopen the window. Everything refused is a ``Refusal``: a reason for the
``command_refused`` event (Central audits it) and a line for the technician.

``admit`` does all of it once for both front-ends (EV_CP_E's engine and EV_OCPP's Kafka
side): open, check the window, accept, have the window stored before the command is obeyed.
"""

from __future__ import annotations

import json
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from wire.errors import InvalidEvent
from wire.kafka.messages import CP_COMMANDS, Authorize, CommandRefused, Event
from wire.kafka.sealed import SEALED, ForgedEvent, cp_kid, open_value
from wire.kafka.topics import Topics
from wire.timefmt import now_ts

COMMANDS_TOPIC = Topics().cp_commands  # the topic name sealed values are bound to
MAX_SESSIONS = 512  # authorize session ids remembered (far more than a CP serves a day)


@dataclass(frozen=True)
class Refusal:
    """A command the engine refused: ``reason`` for Central's audit, ``line`` for the panel."""

    reason: str
    command_type: str = ""

    @property
    def line(self) -> str:
        """E.g. "Refused a forged stop command (does not open with the key of 'cp:CP-01')"."""
        kind, sep, detail = self.reason.partition(": ")
        if not sep or kind not in ("forged", "unsealed", "replayed"):
            kind, detail = "", self.reason
        words = " ".join(w for w in (kind, self.command_type, "command") if w)
        article = "an" if words[0] in "aeiou" else "a"
        return f"Refused {article} {words} ({detail})"

    def event(self, cp_id: str, offset: int) -> CommandRefused:
        """The ``command_refused`` event that tells Central (which audits it)."""
        return CommandRefused(
            cp_id=cp_id,
            reason=self.reason,
            command_type=self.command_type,
            offset=offset,
            ts=now_ts(),
        )


@dataclass
class ReplayWindow:
    """The last accepted ``seq`` and the recent ``authorize`` session ids."""

    last_seq: int | None = None
    sessions: deque[str] = field(default_factory=lambda: deque(maxlen=MAX_SESSIONS))

    def check(self, event: Event) -> Refusal | None:
        kind = event.TYPE
        seq = getattr(event, "seq", None)
        if seq is None:
            return Refusal("replayed: no sequence number (a secure Central always sends one)", kind)
        if self.last_seq is not None and seq <= self.last_seq:
            return Refusal(f"replayed: seq {seq} is not above {self.last_seq}", kind)
        if isinstance(event, Authorize) and event.session_id in self.sessions:
            return Refusal(f"replayed: session {event.session_id} was already authorized", kind)
        return None

    def accept(self, event: Event) -> None:
        seq = getattr(event, "seq", None)
        if seq is not None:
            self.last_seq = seq
        if isinstance(event, Authorize):
            self.remember(event.session_id)

    def remember(self, session_id: str) -> None:
        if session_id not in self.sessions:
            self.sessions.append(session_id)

    def to_record(self) -> dict[str, Any]:
        return {"last_seq": self.last_seq, "sessions": list(self.sessions)}

    @classmethod
    def from_record(cls, record: dict[str, Any] | None) -> ReplayWindow:
        window = cls()
        if not record:
            return window
        seq = record.get("last_seq")
        if isinstance(seq, int) and not isinstance(seq, bool):
            window.last_seq = seq
        for session in record.get("sessions") or []:
            if isinstance(session, str):
                window.remember(session)
        return window


def open_command(value: bytes | None, *, cp_id: str, key: bytes) -> Event | Refusal:
    """The command sealed in ``value`` for this CP, or why it is refused (no replay check)."""
    own = cp_kid(cp_id)
    try:
        envelope = json.loads(value) if value is not None else None
    except (UnicodeDecodeError, json.JSONDecodeError):
        return Refusal("unsealed: not valid JSON")
    if not isinstance(envelope, dict):
        return Refusal("unsealed: not a JSON object")
    if envelope.get("type") != SEALED:
        kind = envelope.get("type")
        return Refusal("unsealed: this CP obeys only sealed commands", str(kind or ""))
    kid = envelope.get("kid")
    if kid != own:
        return Refusal(f"forged: sealed for {kid!r}, not for {own!r}")
    try:
        _, event = open_value(
            value, keys=lambda k: key if k == own else None, topic=COMMANDS_TOPIC, codec=CP_COMMANDS
        )
    except ForgedEvent:
        return Refusal(f"forged: does not open with the key of {own!r}")
    except InvalidEvent as exc:
        return Refusal(f"invalid sealed command: {exc}")
    if getattr(event, "cp_id", None) != cp_id:
        return Refusal(f"forged: names CP {getattr(event, 'cp_id', '?')!r}", event.TYPE)
    return event


def admit(
    value: bytes | None,
    *,
    cp_id: str,
    key: bytes,
    window: ReplayWindow,
    store: Callable[[ReplayWindow], object],
) -> Event | Refusal:
    """The command to obey, or why it is refused: ``value`` opened with this CP's key, checked
    against its replay window and, when admitted, accepted into the window and handed to
    ``store`` (which keeps it on disk and handles its own errors) before it is obeyed."""
    opened = open_command(value, cp_id=cp_id, key=key)
    if isinstance(opened, Refusal):
        return opened
    refusal = window.check(opened)
    if refusal is not None:
        return refusal
    window.accept(opened)
    store(window)
    return opened
