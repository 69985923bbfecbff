"""What Central's core knows of its database, in memory, with the writes behind it.

The core (one owner, one thread) must answer 10,000 heartbeats a second and never wait on
a database, yet every decision it makes must survive a crash. So the registry (credential
hashes, pending registration claims, drivers) and the live and recent sessions
(:mod:`~central_app.session_notes`: older ones are looked up off the owner) live here in
memory, loaded once at start and refreshed from the database every few seconds (``evc-admin``
writes there); every change is applied to memory at once and handed to the
:mod:`~central_app.db_writer` as a job. Callers that must not act before the row is durable
(``authorize`` goes out only after its session row is written, a ticket is sent only when the
database agrees it is the first for that session) chain on the returned future through
``Hub.after``.

Keys (docs/security.md): the CP and driver keys that seal Kafka values live here too. They
are read by the Kafka consumer thread (opening ``evc.requests`` / ``evc.cp.events``) as well
as by the owner. The consumer thread only does ``dict.get`` (never iterates), which is atomic
against the owner's single stores and deletes; a whole refresh builds a new dict and replaces
the reference (:meth:`key_for` is one ``dict.get`` on whichever dict
is current, atomic under the GIL).

Only one Central writes a database at a time, so memory is authoritative for what this
process wrote; the database's own guards (unique ``session_id``, conditional updates) stay
the last word and their answers are what the core acts on.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import replace
from datetime import timedelta
from typing import Any, Generic, TypeVar

from central_app.billing import TicketData
from central_app.db_writer import Writer, transient
from central_app.session_notes import (
    FINAL_KEPT,
    MAX_NOTES,
    PROVISIONAL_KEPT,
    SessionNote,
    SessionNotes,
)
from central_app.session_store import SessionOp
from central_app.state_log import Change, StateLog, write_changes
from central_app.store import CpRecord, OpenSession, RegistryError, Store, revoked_text
from wire.credentials import hash_credential, needs_rehash, verify_credential
from wire.kafka.sealed import cp_kid, driver_kid, key_bytes, new_key
from wire.timefmt import format_ts, utc_now

log = logging.getLogger(__name__)

I = TypeVar("I")  # noqa: E741
R = TypeVar("R")


class Batch(Generic[I, R]):
    """Items queued from the owner, run by the writer as one job over all of them.

    The first item queues a job; items added before that job starts ride along with it (the
    job takes the whole list when it runs); each gets its own future. ``run(items)`` returns
    one result per item; a result that is an exception fails that item's future only.
    """

    def __init__(self, writer: Writer, run: Callable[[list[I]], list[R | Exception]]) -> None:
        self._writer = writer
        self._run = run
        self._lock = threading.Lock()
        self._items: list[tuple[I, Future[R]]] = []

    def add(self, item: I) -> Future[R]:
        future: Future[R] = Future()
        with self._lock:
            self._items.append((item, future))
            first = len(self._items) == 1
        if first:
            taken: list[tuple[I, Future[R]]] = []

            def job() -> None:
                # The writer calls a job again after a database outage: the batch is the one
                # taken at the first call, not whatever queued meanwhile (that has its own job).
                if not taken:
                    with self._lock:
                        taken.extend(self._items)
                        self._items = []
                try:
                    self._flush(taken)
                except Exception as exc:
                    if not transient(exc):  # retried by the writer otherwise
                        for _, waiting in taken:
                            if not waiting.done():
                                waiting.set_exception(exc)
                    raise

            self._writer.submit(job)
        return future

    def _flush(self, batch: list[tuple[I, Future[R]]]) -> None:
        results = self._run([item for item, _ in batch])
        for (_, future), result in zip(batch, results, strict=True):
            if future.done():  # cancelled by its waiter; the row is written all the same
                continue
            if isinstance(result, Exception):
                future.set_exception(result)
            else:
                future.set_result(result)


def _done(value: object) -> Future:
    future: Future = Future()
    future.set_result(value)
    return future


class Ledger:
    def __init__(
        self,
        store: Store,
        writer: Writer,
        *,
        require_enrollment: bool = False,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.store = store
        self.writer = writer
        # A secured Central registers an id only with the operator's one-time token.
        self.require_enrollment = require_enrollment
        self._credentials: dict[str, str | None] = {}
        self._claims: set[str] = set()
        self._drivers: set[str] = set()
        # live and recent sessions only (central_app.session_notes); older ones: look_up
        self._sessions = SessionNotes(clock)
        # A registration burst (or the AUTHs that follow it) costs one transaction per batch
        # instead of one per CP: under load the writer thread gets the interpreter only in
        # slices, and per-CP commits made 10,000 new CPs register at ~100/s.
        self._registrations: Batch[tuple[Any, ...], tuple[str, CpRecord]] = Batch(
            writer,
            lambda items: self.store.register_many(items, require_token=self.require_enrollment),
        )
        self._settled: Batch[str, None] = Batch(
            writer, lambda ids: self.store.settle_claims(ids) or [None] * len(ids)
        )
        self._revoked: set[str] = set()
        # The history's state changes (central_app.state_log): batched like registrations.
        self._state_changes: Batch[Change, None] = Batch(
            writer, lambda changes: write_changes(self.store.db, changes)
        )
        self.states = StateLog(self._state_changes.add)
        # Every session write (create, start, reopen, close, ticket) in one ordered batch, so
        # a ticket never overtakes its session's creation, and a wave of 2,000 supplies
        # ending costs a few transactions instead of thousands.
        self._session_writes: Batch[SessionOp, Any] = Batch(
            writer, lambda ops: self.store.write_sessions(ops)
        )
        # kid -> key text (owner only) and kid -> raw key (replaced, never mutated: see above)
        self._key_text: dict[str, str] = {}
        self._keys: dict[str, bytes] = {}
        # Bumped by every registry change made here; a refresh read before one is stale.
        self.generation = 0
        self.registry_mark = -1  # newest audit id when the registry was last read

    # --- loading (at start, before the core serves; and the periodic refresh) -------------

    def load(self) -> tuple[list[CpRecord], list[OpenSession]]:
        """Read everything the core keeps in memory (blocking: call before serving)."""
        self.registry_mark = self.store.audit_mark()
        records = self.store.load_cps()
        self.apply_registry(records, self.store.driver_keys())
        now = utc_now()
        since = format_ts(now - timedelta(seconds=FINAL_KEPT))
        provisional_since = format_ts(now - timedelta(seconds=PROVISIONAL_KEPT))
        for sid, note in self.store.recent_sessions(since, provisional_since, MAX_NOTES):
            self._sessions.add(sid, SessionNote(*note))
        return records, self.store.open_sessions()

    def read_registry(
        self,
    ) -> Future[tuple[int, list[CpRecord], dict[str, str | None]] | None]:
        """The registry as the database has it now (read on the writer's thread), or None
        when nothing changed since the last one applied. Every change to CPs or drivers,
        by Central or ``evc-admin``, writes an audit row, so an unchanged newest audit id
        means an unchanged registry: a quiet 10,000-CP network is not re-read every 5 s
        (reading and applying it stalled the core for tens of milliseconds)."""
        last = self.registry_mark

        def read() -> tuple[int, list[CpRecord], dict[str, str | None]] | None:
            mark = self.store.audit_mark()
            if mark == last:
                return None
            return mark, self.store.load_cps(), self.store.driver_keys()

        return self.writer.submit(read)

    def apply_registry(
        self,
        records: list[CpRecord],
        drivers: dict[str, str | None] | list[str],
        generation: int | None = None,
    ) -> bool:
        """Take the database's registry (``drivers``: id -> key, or bare ids). False (and
        nothing applied) when it was read at an older ``generation``: memory changed since
        (a REGISTER, a revocation) and the read may predate it; the next refresh applies."""
        if generation is not None and generation != self.generation:
            return False
        texts: dict[str, str] = {}
        for record in records:
            self._credentials[record.cp_id] = record.credential_hash
            if record.claim_pending:
                self._claims.add(record.cp_id)
            else:
                self._claims.discard(record.cp_id)
            if record.revoked:
                self._revoked.add(record.cp_id)
            else:
                self._revoked.discard(record.cp_id)
            if record.seal_key:
                texts[cp_kid(record.cp_id)] = record.seal_key
        known = {r.cp_id for r in records}
        for cp_id in [c for c in self._credentials if c not in known]:
            del self._credentials[cp_id]
            self._claims.discard(cp_id)
            self._revoked.discard(cp_id)
        keyed = drivers if isinstance(drivers, dict) else dict.fromkeys(drivers)
        for driver_id, text in keyed.items():
            if text:
                texts[driver_kid(driver_id)] = text
        self._drivers = set(keyed)
        self._set_keys(texts)
        return True

    # --- keys (docs/security.md) ----------------------------------------------------------

    def _set_keys(self, texts: dict[str, str]) -> None:
        """Publish a new kid -> key dict (a new object: the consumer may be reading the old)."""
        if texts == self._key_text:
            return
        old = self._keys
        keys: dict[str, bytes] = {}
        for kid, text in texts.items():
            if self._key_text.get(kid) == text and kid in old:
                keys[kid] = old[kid]
                continue
            try:
                keys[kid] = key_bytes(text)
            except ValueError as exc:
                log.error("the stored key of %s is unusable (%s); issue a new one", kid, exc)
        self._key_text = texts
        self._keys = keys

    def _set_key(self, kid: str, text: str | None) -> None:
        """One key changed: updated in place. A single ``dict`` store or delete is atomic in
        CPython, and the consumer thread only ever does ``get`` on it (never iterates), so
        in-place is safe here; copying 10,000 keys per REGISTER was not affordable."""
        if text:
            try:
                raw = key_bytes(text)
            except ValueError as exc:
                log.error("the key of %s is unusable (%s); issue a new one", kid, exc)
                return
            self._key_text[kid] = text
            self._keys[kid] = raw
        else:
            self._key_text.pop(kid, None)
            self._keys.pop(kid, None)

    def key_for(self, kid: str) -> bytes | None:
        """The raw key of ``cp:<id>`` / ``driver:<id>``; None when unknown, revoked or not
        issued. Safe from any thread (one ``dict.get``)."""
        return self._keys.get(kid)

    def can_authenticate(self, cp_id: str) -> bool:
        """The CP has a credential (not revoked, reset or removed)."""
        return bool(self._credentials.get(cp_id))

    def revoked(self, cp_id: str) -> bool:
        """The operator revoked the CP (refused until re-admitted with a token)."""
        return cp_id in self._revoked

    def cp_key(self, cp_id: str) -> str | None:
        """The CP's key as text (what REGISTERED and AUTHORIZED carry)."""
        return self._key_text.get(cp_kid(cp_id))

    def issue_cp_key(self, cp_id: str) -> str:
        """A key for a CP registered before keys existed (at its AUTH): memory now, row behind."""
        key = new_key()
        self.generation += 1
        self._set_key(cp_kid(cp_id), key)
        self.writer.submit(self.store.set_cp_key, cp_id, key)
        return key

    def revoke(self, cp_id: str, who: str) -> Future[None]:
        """Forget the CP's credential, claim and key at once; the row (and audit) behind."""
        self.generation += 1
        self._credentials[cp_id] = None
        self._claims.discard(cp_id)
        self._revoked.add(cp_id)
        self._set_key(cp_kid(cp_id), None)
        return self.writer.submit(self.store.revoke_cp, cp_id, who)

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
        token: str = "",
    ) -> Future[tuple[str, CpRecord]]:
        """REGISTER: decided by the database in one transaction (see ``Store.register_cp``);
        the caller applies the result with :meth:`registered`."""
        return self._registrations.add((cp_id, location, x, y, default_price, who, claim, token))

    def registered(self, record: CpRecord) -> None:
        self.generation += 1
        self._credentials[record.cp_id] = record.credential_hash
        if record.claim_pending:
            self._claims.add(record.cp_id)
        self._revoked.discard(record.cp_id)
        self._set_key(cp_kid(record.cp_id), record.seal_key)

    def authenticate(self, cp_id: str, credential: str) -> None:
        """Raise RegistryError with the reason unless ``credential`` is this CP's.

        The first successful AUTH ends a registration's claim (a retried REGISTER can no
        longer obtain a credential), and a hash in an old slow format is replaced.
        """
        if cp_id not in self._credentials:
            raise RegistryError("unknown cp")
        stored = self._credentials[cp_id]
        if not stored:
            if cp_id in self._revoked:
                raise RegistryError(revoked_text(cp_id))
            raise RegistryError("not registered yet")
        if not verify_credential(credential, stored):
            raise RegistryError("bad credential")
        if cp_id in self._claims:
            self._claims.discard(cp_id)
            self._settled.add(cp_id)
        if needs_rehash(stored):
            self._credentials[cp_id] = hash_credential(credential)
            self.writer.submit(self.store.set_credential_hash, cp_id, self._credentials[cp_id])

    def set_admin_state(self, cp_ids: list[str], state: str, who: str) -> Future[None]:
        return self.writer.submit(self.store.set_admin_state, cp_ids, state, who)

    def set_price(self, cp_id: str, price: float, who: str) -> Future[None]:
        """The operator's price change: the row and its audit entry behind. A registry
        refresh read before it is written would bring the old price back, so it counts as a
        registry change (``generation``)."""
        self.generation += 1
        return self.writer.submit(self.store.set_price, cp_id, price, who)

    def audit(self, who: str, action: str, detail: str = "") -> None:
        self.writer.submit(self.store.audit, who, action, detail)

    # --- drivers --------------------------------------------------------------------------

    def driver_exists(self, driver_id: str) -> bool:
        return driver_id in self._drivers

    # --- sessions -------------------------------------------------------------------------

    def request_seen(self, request_id: str) -> bool:
        """The request authorized a session in the last minutes (``SessionNotes``: an older
        one is denied as expired, never authorized twice)."""
        return self._sessions.request_seen(request_id)

    def session_info(self, session_id: str) -> SessionNote | None:
        """The note of a live or recent session; None for an older one (``look_up``) or one
        Central never authorized."""
        return self._sessions.get(session_id)

    @property
    def notes(self) -> SessionNotes:
        """The sessions kept in memory (read-only use: counts, tests)."""
        return self._sessions

    def look_up(self, session_id: str) -> Future[SessionNote | None]:
        """The database's note of a session memory no longer holds, read on the writer's
        thread: the owner continues with ``recalled`` when it arrives (``Hub.after``)."""
        return self.writer.submit(self._read_note, session_id)

    def _read_note(self, session_id: str) -> SessionNote | None:
        info = self.store.session_info(session_id)
        if info is None:
            return None
        return SessionNote(
            info.cp_id, info.driver_id, info.request_id, info.price, info.status, info.provisional
        )

    def recalled(self, session_id: str, note: SessionNote | None) -> None:
        """Keep what ``look_up`` found for a while (the session's next events come soon);
        a note memory took meanwhile is newer and stays."""
        if note is not None and self._sessions.get(session_id) is None:
            self._sessions.add(session_id, note)

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
        self._sessions.add(
            session_id, SessionNote(cp_id, driver_id, request_id, price, "authorized")
        )
        row = {
            "cp_id": cp_id,
            "session_id": session_id,
            "request_id": request_id,
            "driver_id": driver_id,
            "origin": origin,
            "price": price,
            "authorized_at": authorized_at,
            "expires_at": expires_at,
        }
        return self._session_writes.add(SessionOp("create", (row,)))

    def mark_started(self, session_id: str, started_at: str) -> None:
        note = self._sessions.get(session_id)
        if note is not None and note.status in ("authorized", "supplying"):
            note.status = "supplying"
        self._session_writes.add(SessionOp("start", (session_id, started_at)))

    def reopen_session(self, session_id: str, started_at: str) -> None:
        note = self._sessions.get(session_id)
        if note is not None and note.status != "ticketed":
            note.status = "supplying"
        self._session_writes.add(SessionOp("reopen", (session_id, started_at)))

    def close_session(self, session_id: str, status: str, reason: str) -> bool:
        note = self._sessions.get(session_id)
        closed = note is None or note.status == "authorized"
        if note is not None and note.status == "authorized":
            note.status = status
            self._sessions.ended(session_id, note)
        self._session_writes.add(SessionOp("close", (session_id, status, reason)))
        return closed

    def issue_ticket(self, ticket: TicketData) -> Future[bool]:
        """True (once written) when this is the session's first ticket; memory answers the
        duplicates this process already saw, the database's guard the rest."""
        note = self._sessions.get(ticket.session_id)
        if note is not None and note.status == "ticketed":
            return _done(False)
        if note is None:
            note = SessionNote(
                ticket.cp_id,
                ticket.driver_id,
                ticket.request_id,
                None,
                "ticketed",
                ticket.provisional,
            )
            self._sessions.add(ticket.session_id, note)
        else:
            note.status = "ticketed"
            note.provisional = ticket.provisional
            self._sessions.ended(ticket.session_id, note)
        return self._session_writes.add(SessionOp("ticket", (replace(ticket),)))

    def note_meter(self, session_id: str, kwh: float) -> None:
        """The engine's final reading as reported, kept beside the ticket for reconciliation
        (central_app.reconcile), whatever became of the report."""
        self._session_writes.add(SessionOp("meter", (session_id, kwh)))

    def ticket_notified(self, session_id: str, amended: bool) -> None:
        """The brokers have the driver's ticket notice (the amended one if ``amended``): a
        Central taking office does not send it again."""
        self._session_writes.add(SessionOp("notified", (session_id, amended)))

    def amendable(self, session_id: str) -> bool:
        """The session's ticket is Central's inference, which the engine's reading replaces."""
        note = self._sessions.get(session_id)
        return note is not None and note.status == "ticketed" and note.provisional

    def amend_ticket(self, ticket: TicketData) -> Future[tuple[float, float, str] | None]:
        """Replace a provisional ticket's figures with the engine's final reading: resolves to
        the (kWh, EUR, reason) it had, or None if the database had nothing to amend."""
        note = self._sessions.get(ticket.session_id)
        if note is not None and note.provisional:
            note.provisional = False
            self._sessions.ended(ticket.session_id, note)  # now kept as any ended session
        return self._session_writes.add(SessionOp("amend", (replace(ticket),)))
