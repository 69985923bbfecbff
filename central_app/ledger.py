"""What Central's core knows of its database, in memory, with the writes behind it.

The core (one owner, one thread) must answer 10,000 heartbeats a second and never wait on
a database, yet every decision it makes must survive a crash. So the registry (credential
hashes, pending registration claims, drivers) and the recent sessions live here in memory,
loaded once at start and refreshed from the database every few seconds (``evc-admin``
writes there); every change is applied to memory at once and handed to the
:mod:`~central_app.db_writer` as a job. Callers that must not act before the row is durable
(``authorize`` goes out only after its session row is written, a ticket is sent only when the
database agrees it is the first for that session) chain on the returned future through
``Hub.after``.

Only one Central writes a database at a time, so memory is authoritative for what this
process wrote; the database's own guards (unique ``session_id``, conditional updates) stay
the last word and their answers are what the core acts on.
"""

from __future__ import annotations

import logging
from concurrent.futures import Future
from dataclasses import dataclass, replace
from datetime import timedelta

from central_app.billing import TicketData
from central_app.credentials import hash_credential, needs_rehash, verify_credential
from central_app.db_writer import Writer
from central_app.store import CpRecord, OpenSession, RegistryError, Store
from wire.timefmt import format_ts, utc_now

log = logging.getLogger(__name__)

RECENT_SESSIONS = timedelta(days=1)
MAX_SESSIONS = 200_000


@dataclass(slots=True)
class SessionNote:
    """The little the core needs to know of a session that is not on a CP any more."""

    cp_id: str
    driver_id: str
    request_id: str | None
    price: float | None
    status: str


def _done(value: object) -> Future:
    future: Future = Future()
    future.set_result(value)
    return future


class Ledger:
    def __init__(self, store: Store, writer: Writer) -> None:
        self.store = store
        self.writer = writer
        self._credentials: dict[str, str | None] = {}
        self._claims: set[str] = set()
        self._drivers: set[str] = set()
        self._sessions: dict[str, SessionNote] = {}
        self._requests: set[str] = set()

    # --- loading (at start, before the core serves; and the periodic refresh) -------------

    def load(self) -> tuple[list[CpRecord], list[OpenSession]]:
        """Read everything the core keeps in memory (blocking: call before serving)."""
        records = self.store.load_cps()
        self.apply_registry(records, self.store.list_drivers())
        since = format_ts(utc_now() - RECENT_SESSIONS)
        for sid, note in self.store.recent_sessions(since, MAX_SESSIONS):
            self._remember(sid, SessionNote(*note))
        return records, self.store.open_sessions()

    def read_registry(self) -> Future[tuple[list[CpRecord], list[str]]]:
        """The registry as the database has it now (read on the writer's thread)."""
        return self.writer.submit(lambda: (self.store.load_cps(), self.store.list_drivers()))

    def apply_registry(self, records: list[CpRecord], drivers: list[str]) -> None:
        for record in records:
            self._credentials[record.cp_id] = record.credential_hash
            if record.claim_pending:
                self._claims.add(record.cp_id)
            else:
                self._claims.discard(record.cp_id)
        known = {r.cp_id for r in records}
        for cp_id in [c for c in self._credentials if c not in known]:
            del self._credentials[cp_id]
            self._claims.discard(cp_id)
        self._drivers = set(drivers)

    # --- charging points ------------------------------------------------------------------

    def register(
        self,
        cp_id: str,
        location: str,
        x: float | None,
        y: float | None,
        *,
        claim: str,
        default_price: float,
        who: str,
    ) -> Future[tuple[str, CpRecord]]:
        """REGISTER: decided by the database in one transaction (see ``Store.register_cp``);
        the caller applies the result with :meth:`registered`."""
        return self.writer.submit(
            lambda: self.store.register_cp(
                cp_id, location, x, y, default_price=default_price, who=who, claim=claim
            )
        )

    def registered(self, record: CpRecord) -> None:
        self._credentials[record.cp_id] = record.credential_hash
        if record.claim_pending:
            self._claims.add(record.cp_id)

    def authenticate(self, cp_id: str, credential: str) -> None:
        """Raise RegistryError with the reason unless ``credential`` is this CP's.

        The first successful AUTH ends a registration's claim (a retried REGISTER can no
        longer obtain a credential), and a hash in an old slow format is replaced.
        """
        if cp_id not in self._credentials:
            raise RegistryError("unknown cp")
        stored = self._credentials[cp_id]
        if not stored:
            raise RegistryError("not registered yet")
        if not verify_credential(credential, stored):
            raise RegistryError("bad credential")
        if cp_id in self._claims:
            self._claims.discard(cp_id)
            self.writer.submit(self.store.settle_claim, cp_id)
        if needs_rehash(stored):
            self._credentials[cp_id] = hash_credential(credential)
            self.writer.submit(self.store.set_credential_hash, cp_id, self._credentials[cp_id])

    def set_admin_state(self, cp_ids: list[str], state: str, who: str) -> Future[None]:
        return self.writer.submit(self.store.set_admin_state, cp_ids, state, who)

    def audit(self, who: str, action: str, detail: str = "") -> None:
        self.writer.submit(self.store.audit, who, action, detail)

    # --- drivers --------------------------------------------------------------------------

    def driver_exists(self, driver_id: str) -> bool:
        return driver_id in self._drivers

    # --- sessions -------------------------------------------------------------------------

    def _remember(self, session_id: str, note: SessionNote) -> None:
        if len(self._sessions) >= MAX_SESSIONS:
            oldest = next(iter(self._sessions))
            dropped = self._sessions.pop(oldest)
            self._requests.discard(dropped.request_id or "")
        self._sessions[session_id] = note
        if note.request_id:
            self._requests.add(note.request_id)

    def request_seen(self, request_id: str) -> bool:
        return request_id in self._requests

    def session_info(self, session_id: str) -> SessionNote | None:
        return self._sessions.get(session_id)

    def create_session(
        self,
        *,
        cp_id: str,
        session_id: str,
        request_id: str | None,
        driver_id: str,
        origin: str,
        price: float,
        authorized_at: str,
        expires_at: str,
    ) -> Future[None]:
        self._remember(session_id, SessionNote(cp_id, driver_id, request_id, price, "authorized"))
        return self.writer.submit(
            lambda: self.store.create_session(
                cp_id=cp_id,
                session_id=session_id,
                request_id=request_id,
                driver_id=driver_id,
                origin=origin,
                price=price,
                authorized_at=authorized_at,
                expires_at=expires_at,
            )
        )

    def mark_started(self, session_id: str, started_at: str) -> None:
        note = self._sessions.get(session_id)
        if note is not None and note.status in ("authorized", "supplying"):
            note.status = "supplying"
        self.writer.submit(self.store.mark_started, session_id, started_at)

    def reopen_session(self, session_id: str, started_at: str) -> None:
        note = self._sessions.get(session_id)
        if note is not None and note.status != "ticketed":
            note.status = "supplying"
        self.writer.submit(self.store.reopen_session, session_id, started_at)

    def close_session(self, session_id: str, status: str, reason: str) -> bool:
        note = self._sessions.get(session_id)
        closed = note is None or note.status == "authorized"
        if note is not None and note.status == "authorized":
            note.status = status
        self.writer.submit(self.store.close_session, session_id, status, reason)
        return closed

    def issue_ticket(self, ticket: TicketData) -> Future[bool]:
        """True (once written) when this is the session's first ticket; memory answers the
        duplicates this process already saw, the database's guard the rest."""
        note = self._sessions.get(ticket.session_id)
        if note is not None and note.status == "ticketed":
            return _done(False)
        if note is None:
            note = SessionNote(ticket.cp_id, ticket.driver_id, ticket.request_id, None, "ticketed")
            self._remember(ticket.session_id, note)
        else:
            note.status = "ticketed"
        return self.writer.submit(self.store.issue_ticket, replace(ticket))
