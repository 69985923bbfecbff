"""Qt-free snapshots that Central's core hands to its views (control center, console, tests).

The core calls a ``CentralListener`` from its own threads; the Qt control center wraps the
listener in a bridge that re-emits each call as a signal, so Qt objects are only touched
from the GUI thread.
"""

from __future__ import annotations

from concurrent.futures import Future
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Protocol

from wire.states import CpStatus
from wire.timefmt import now_ts

__all__ = [
    "CentralControls",
    "CentralListener",
    "CpStatus",  # wire.states' (re-exported: the views' vocabulary)
    "CpView",
    "LinkStatus",
    "LogEntry",
    "LogLevel",
    "RequestPhase",
    "RequestView",
]


@dataclass(frozen=True, slots=True)
class CpView:
    cp_id: str
    location: str
    x: float | None
    y: float | None
    price: float
    status: CpStatus
    engine: str | None = None  # OK, KO, UNREACHABLE, or None while disconnected
    admin_state: str = "ACTIVE"  # what the operator wants: ACTIVE or STOPPED
    driver_id: str | None = None  # only while supplying / authorized
    session_id: str | None = None
    kw: float = 0.0
    kwh: float = 0.0
    eur: float = 0.0
    updated_at: str = field(default_factory=now_ts)


class RequestPhase(StrEnum):
    RECEIVED = "received"
    AUTHORIZED = "authorized"
    SUPPLYING = "supplying"
    DENIED = "denied"
    EXPIRED = "expired"
    FINISHED = "finished"
    INTERRUPTED = "interrupted"


@dataclass(frozen=True, slots=True)
class RequestView:
    request_id: str
    driver_id: str
    cp_id: str
    phase: RequestPhase
    detail: str = ""
    session_id: str | None = None
    origin: str = "app"
    updated_at: str = field(default_factory=now_ts)


class LogLevel(StrEnum):
    INFO = "info"
    WARNING = "warning"
    ERROR = "error"


@dataclass(frozen=True, slots=True)
class LogEntry:
    text: str
    level: LogLevel = LogLevel.INFO
    source: str = "central"  # e.g. "central", "CP-07", "driver D-3", "kafka"
    ts: str = field(default_factory=now_ts)


@dataclass(frozen=True, slots=True)
class LinkStatus:
    kafka_up: bool
    database_ok: bool
    database_url: str = ""
    tcp_port: int = 0
    monitors_connected: int = 0
    # In an active/standby pair: this Central's id and role ("active"); "" when alone.
    central_id: str = ""
    role: str = ""
    active_id: str = ""  # a standby's: the Central of the pair that is active now


class CentralListener(Protocol):
    """What a view of Central implements. Called from the core's threads."""

    def cp_changed(self, cp: CpView) -> None: ...

    def request_changed(self, request: RequestView) -> None: ...

    def logged(self, entry: LogEntry) -> None: ...

    def links_changed(self, links: LinkStatus) -> None: ...


class CentralControls(Protocol):
    """What the operator can do; implemented by the core, used by views."""

    def snapshot(self) -> list[CpView]: ...

    def add_listener(self, listener: CentralListener) -> None: ...

    # Stop/Resume are posted and return at once: the core returns a Future that completes
    # once the owner applied the command (a fake or a read-only view may return None).

    def stop_cp(self, cp_id: str) -> Future[None] | None: ...

    def resume_cp(self, cp_id: str) -> Future[None] | None: ...

    def stop_all(self) -> Future[None] | None: ...

    def resume_all(self) -> Future[None] | None: ...

    def revoke_cp(self, cp_id: str) -> Future[None] | None: ...

    def enroll_cp(self, cp_id: str, ttl_s: float) -> tuple[str, str]:
        """A one-time enrollment token for ``cp_id``: (token, expires_at); RegistryError."""
        ...

    def set_price(self, cp_id: str, price: float) -> Future[None] | None: ...
