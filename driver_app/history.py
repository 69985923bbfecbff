"""This driver's tickets, kept locally as JSON lines in ``<data-dir>/tickets.jsonl``.

The file doubles as the memory of which sessions were already ticketed, so a ticket that
Kafka delivers twice (before and after a restart, for instance) is shown and stored once.
A damaged line is skipped with a warning; the rest of the history still loads.
"""

from __future__ import annotations

import json
import logging
import os
from dataclasses import asdict
from pathlib import Path

from driver_app.session import TicketInfo

log = logging.getLogger(__name__)

FILE_NAME = "tickets.jsonl"


class HistoryError(Exception):
    """The history file cannot be written (disk full, no permission...)."""


class TicketHistory:
    def __init__(self, data_dir: str | Path | None) -> None:
        """``data_dir`` None keeps the history in memory only (tests, throwaway runs)."""
        self._path = Path(data_dir) / FILE_NAME if data_dir is not None else None
        self._tickets: list[TicketInfo] = []
        self._sessions: set[str] = set()
        if self._path is not None:
            self._load()

    @property
    def path(self) -> Path | None:
        return self._path

    def __contains__(self, session_id: object) -> bool:
        return session_id in self._sessions

    def tickets(self) -> list[TicketInfo]:
        """Oldest first."""
        return list(self._tickets)

    def add(self, ticket: TicketInfo) -> bool:
        """Store a ticket; False (and nothing stored) if that session already has one."""
        if ticket.session_id in self._sessions:
            return False
        self._append(ticket)
        self._tickets.append(ticket)
        self._sessions.add(ticket.session_id)
        return True

    def amend(self, ticket: TicketInfo) -> TicketInfo | None:
        """Replace the session's ticket (Central corrected it with the meter's final reading):
        the one it replaced, or None if there was none (then it is simply stored). The file
        keeps both lines; the later one wins when it is read again."""
        old = next((t for t in self._tickets if t.session_id == ticket.session_id), None)
        if old is None:
            self.add(ticket)
            return None
        self._append(ticket)
        self._tickets[self._tickets.index(old)] = ticket
        return old

    def _append(self, ticket: TicketInfo) -> None:
        if self._path is None:
            return
        try:
            self._path.parent.mkdir(parents=True, exist_ok=True)
            with self._path.open("a", encoding="utf-8") as out:
                out.write(json.dumps(asdict(ticket), ensure_ascii=False) + "\n")
                out.flush()
                os.fsync(out.fileno())
        except OSError as exc:
            raise HistoryError(f"cannot write {self._path}: {exc.strerror or exc}") from exc

    def _load(self) -> None:
        assert self._path is not None
        try:
            lines = self._path.read_text(encoding="utf-8").splitlines()
        except FileNotFoundError:
            return
        except OSError as exc:
            log.warning("cannot read ticket history %s: %s", self._path, exc)
            return
        for number, line in enumerate(lines, 1):
            if not line.strip():
                continue
            try:
                ticket = TicketInfo(**json.loads(line))
            except (ValueError, TypeError) as exc:
                log.warning("skipping line %d of %s: %s", number, self._path, exc)
                continue
            if ticket.session_id not in self._sessions:
                self._tickets.append(ticket)
                self._sessions.add(ticket.session_id)
            else:  # an amended ticket: the later line wins
                at = next(
                    i for i, t in enumerate(self._tickets) if t.session_id == ticket.session_id
                )
                self._tickets[at] = ticket
