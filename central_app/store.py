"""The repository: every database read and write Central and ``evc-admin`` do, one unit of
work per method (``with Session.begin()``), so no session ever crosses a thread.

Registration rules (see docs/central.md):
- REGISTER of a known id without a credential (seeded, or reset by the admin) succeeds: a
  credential is issued; the stored location/position are kept unless REGISTER gives them.
- REGISTER of an id that has a credential is rejected ("already registered").
- REGISTER of an unknown id creates the CP at the default price.
- Enrollment (docs/security.md): a secured Central (``require_token``) issues a credential to
  an id without one only against a one-time token the operator issued for that id
  (``issue_enrollment``); the token is used up in the same transaction. A *revoked* id is
  refused without such a token in every mode: revocation lasts until the operator re-admits
  the CP by issuing it a token. A claim retry (the lost answer to a REGISTER that already
  used its token) needs no second token.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from sqlalchemy import delete, func, insert, select, update
from sqlalchemy.exc import IntegrityError, SQLAlchemyError
from sqlalchemy.orm import Session

from central_app.db import (
    AuditRow,
    ChargingPointRow,
    Database,
    DriverRow,
    EnrollmentTokenRow,
    Fenced,
    LeaderRow,
    first_epoch,
)
from central_app.db import DatabaseError as DatabaseError
from central_app.pricing import DEFAULT_PRICE
from central_app.session_store import OpenSession as OpenSession
from central_app.session_store import SessionInfo as SessionInfo
from central_app.session_store import SessionStore
from wire.credentials import hash_credential, new_credential, verify_credential
from wire.kafka.sealed import new_key
from wire.timefmt import format_ts, now_ts, utc_now

log = logging.getLogger(__name__)

DEFAULT_SEED = Path(__file__).resolve().parents[1] / "resources" / "seed.json"


class RegistryError(Exception):
    """An admin or registration request that cannot be done (message is for users)."""


@dataclass(frozen=True, slots=True)
class CpRecord:
    cp_id: str
    location: str
    x: float | None
    y: float | None
    price: float
    admin_state: str
    has_credential: bool
    credential_hash: str | None = None
    claim_pending: bool = False
    seal_key: str | None = None  # the CP's key for its Kafka values (docs/security.md)
    revoked: bool = False  # the operator revoked credential and key; REGISTER again
    rated_kw: float | None = None  # the charger's rated power (central_app.energy_check)


def _record(row: ChargingPointRow) -> CpRecord:
    return CpRecord(
        row.id,
        row.location,
        row.x,
        row.y,
        row.price,
        row.admin_state,
        bool(row.credential_hash),
        row.credential_hash,
        bool(row.claim_hash),
        row.seal_key,
        bool(row.revoked_at),
        row.rated_kw,
    )


#: What a CP id may look like (a ``#`` field, a file name, a Kafka key).
CP_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
#: How long an enrollment token is valid unless the operator says otherwise.
ENROLLMENT_TTL_S = 24 * 3600.0


def revoked_text(cp_id: str) -> str:
    return (
        f"revoked by the operator; refused until the operator re-admits it "
        f"(evc-admin cp enroll {cp_id}, then the monitor's --enroll-token)"
    )


class Tokens:
    """The unused, unexpired enrollment tokens of some CP ids, read once per registration
    batch; ``use`` spends the one that matches (in the caller's transaction)."""

    def __init__(self, s: Any, cp_ids: set[str]) -> None:
        self._rows: dict[str, list[Any]] = {}
        now = now_ts()
        query = select(EnrollmentTokenRow).where(
            EnrollmentTokenRow.cp_id.in_(cp_ids),
            EnrollmentTokenRow.used_at.is_(None),
            EnrollmentTokenRow.expires_at > now,
        )
        for row in s.scalars(query):
            self._rows.setdefault(row.cp_id, []).append(row)

    def use(self, cp_id: str, token: str) -> bool:
        for row in self._rows.get(cp_id, []):
            if row.used_at is None and verify_credential(token, row.token_hash):
                row.used_at = now_ts()
                return True
        return False


def _register_row(
    row: Any,
    location: str,
    x: float | None,
    y: float | None,
    claim: str,
    *,
    new: bool,
    token: str = "",
    tokens: Tokens | None = None,
    require_token: bool = False,
) -> tuple[str, str, str]:
    """Apply one REGISTER to a CP row (an ORM row, or the values of a row about to be
    inserted): the rules of the module docstring. Returns (credential, audit action, audit
    detail); RegistryError, with the row untouched, when refused."""
    credential = new_credential()
    if row.credential_hash:
        if not (claim and verify_credential(claim, row.claim_hash)):
            raise RegistryError("already registered")
        row.credential_hash = hash_credential(credential)
        row.seal_key = new_key()  # the lost response carried the old one
        return credential, "register_retry", f"{row.id}: claim matched"
    enrolling = require_token or row.revoked_at
    if enrolling and not (token and tokens is not None and tokens.use(row.id, token)):
        if row.revoked_at:
            raise RegistryError(revoked_text(row.id))
        if not token:
            raise RegistryError(
                "enrollment token required: the operator issues one with "
                f"`evc-admin cp enroll {row.id}` (pass it with --enroll-token)"
            )
        raise RegistryError(f"enrollment token not valid for {row.id} (unknown, used or expired)")
    if new:
        action = "register_new"
    else:
        action = "register_again" if row.revoked_at else "register_seeded"
        if location:
            row.location = location
        if x is not None and y is not None:
            row.x, row.y = x, y
    row.credential_hash = hash_credential(credential)
    row.claim_hash = hash_credential(claim) if claim else None
    row.seal_key = new_key()
    row.revoked_at = None
    enrolled = " with an enrollment token" if enrolling else ""
    return credential, action, f"{row.id} at {row.location!r} ({row.x}, {row.y}){enrolled}"


class Store(SessionStore):
    """Registry, seed and audit here; sessions and tickets in ``SessionStore``."""

    def __init__(self, db: Database) -> None:
        self.db = db

    # --- seed -----------------------------------------------------------------------------

    def is_empty(self) -> bool:
        with self.db.Session.begin() as s:
            cps = s.scalar(select(func.count()).select_from(ChargingPointRow)) or 0
            drivers = s.scalar(select(func.count()).select_from(DriverRow)) or 0
        return cps == 0 and drivers == 0

    def seed(self, path: Path) -> tuple[int, int]:
        """Insert the seed file's CPs and drivers that do not exist yet."""
        try:
            data: dict[str, Any] = json.loads(Path(path).read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise RegistryError(f"cannot read seed file {path}: {exc}") from exc
        cps = data.get("charging_points", data.get("cps", []))
        drivers = data.get("drivers", [])
        added_cps = added_drivers = 0
        with self.db.Session.begin() as s:
            for cp in cps:
                if s.get(ChargingPointRow, cp["id"]) is None:
                    s.add(
                        ChargingPointRow(
                            id=cp["id"],
                            location=cp.get("location", ""),
                            x=cp.get("x"),
                            y=cp.get("y"),
                            price=float(cp.get("price", DEFAULT_PRICE)),
                            admin_state="ACTIVE",
                            rated_kw=cp.get("rated_kw"),
                        )
                    )
                    added_cps += 1
            for d in drivers:
                driver_id = d["id"] if isinstance(d, dict) else str(d)
                if s.get(DriverRow, driver_id) is None:
                    s.add(DriverRow(id=driver_id, seal_key=new_key()))
                    added_drivers += 1
            s.add(
                AuditRow(
                    who="central",
                    action="seed",
                    detail=f"{path}: {added_cps} CPs, {added_drivers} drivers",
                )
            )
        return added_cps, added_drivers

    # --- charging points ------------------------------------------------------------------

    def load_cps(self) -> list[CpRecord]:
        """Every CP, read as plain rows (no ORM objects): Central refreshes its registry from
        this every few seconds, 10,000 rows each time."""
        c = ChargingPointRow
        with self.db.Session.begin() as s:
            rows = s.execute(
                select(
                    c.id,
                    c.location,
                    c.x,
                    c.y,
                    c.price,
                    c.admin_state,
                    c.credential_hash,
                    c.claim_hash,
                    c.seal_key,
                    c.revoked_at,
                    c.rated_kw,
                ).order_by(c.id)
            )
            return [
                CpRecord(
                    r[0],
                    r[1],
                    r[2],
                    r[3],
                    r[4],
                    r[5],
                    bool(r[6]),
                    r[6],
                    bool(r[7]),
                    r[8],
                    bool(r[9]),
                    r[10],
                )
                for r in rows
            ]

    def get_cp(self, cp_id: str) -> CpRecord | None:
        with self.db.Session.begin() as s:
            row = s.get(ChargingPointRow, cp_id)
            return _record(row) if row else None

    def register_cp(
        self,
        cp_id: str,
        location: str,
        x: float | None,
        y: float | None,
        *,
        default_price: float,
        who: str,
        claim: str = "",
        token: str = "",
        require_token: bool = False,
    ) -> tuple[str, CpRecord]:
        """Issue a credential (see the module docstring); RegistryError when rejected.

        ``claim`` makes a lost REGISTER response safe to retry: the claim's hash is kept until
        the credential is first used (``settle_claim``), and a REGISTER with the same claim
        meanwhile gets a fresh credential instead of "already registered". Without the claim
        nobody can obtain a credential for a registered id.
        """
        with self.db.Session.begin() as s:
            return self._register_in(
                s, cp_id, location, x, y, default_price, who, claim, token, require_token
            )

    def register_many(
        self,
        requests: list[tuple[str, str, float | None, float | None, float, str, str, str]],
        *,
        require_token: bool = False,
    ) -> list[tuple[str, CpRecord] | RegistryError]:
        """Several REGISTERs in one transaction (a registration burst costs one commit, not
        one per CP); each item is (cp_id, location, x, y, default_price, who, claim, token), each
        result a (credential, record) or the RegistryError that refused it.

        Rows that exist (seeded, revoked, a claim retry) are read in one query and changed
        through the ORM; new ones are inserted with one bulk INSERT (with their audit rows),
        which keeps 10,000 new CPs to a few seconds of the writer's time.
        """
        results: list[tuple[str, CpRecord] | RegistryError] = []
        with self.db.Session.begin() as s:
            ids = {item[0] for item in requests}
            rows: dict[str, Any] = {
                row.id: row
                for row in s.scalars(select(ChargingPointRow).where(ChargingPointRow.id.in_(ids)))
            }
            tokens = Tokens(s, ids)
            fresh: list[SimpleNamespace] = []
            fresh_ids: set[str] = set()
            audits: list[dict[str, str]] = []
            for cp_id, location, x, y, price, who, claim, token in requests:
                row = rows.get(cp_id)
                new = row is None or cp_id in fresh_ids
                if row is None:
                    row = SimpleNamespace(
                        id=cp_id,
                        location=location,
                        x=x,
                        y=y,
                        price=price,
                        admin_state="ACTIVE",
                        credential_hash=None,
                        claim_hash=None,
                        seal_key=None,
                        revoked_at=None,
                        rated_kw=None,
                        created=now_ts(),
                    )
                    rows[cp_id] = row
                    fresh.append(row)
                    fresh_ids.add(cp_id)
                try:
                    credential, action, detail = _register_row(
                        row,
                        location,
                        x,
                        y,
                        claim,
                        new=new,
                        token=token,
                        tokens=tokens,
                        require_token=require_token,
                    )
                except RegistryError as exc:  # refused before anything was changed
                    if row in fresh:  # nothing of a refused new id is kept
                        fresh.remove(row)
                        fresh_ids.discard(cp_id)
                        del rows[cp_id]
                    audits.append(
                        {"ts": now_ts(), "who": who, "action": "register_rejected",
                         "detail": f"{cp_id}: {exc}"}
                    )  # fmt: skip
                    results.append(exc)
                    continue
                audits.append({"ts": now_ts(), "who": who, "action": action, "detail": detail})
                results.append((credential, _record(row)))
            if fresh:
                s.execute(insert(ChargingPointRow), [vars(row) for row in fresh])
            if audits:
                s.execute(insert(AuditRow), audits)
        return results

    def _register_in(
        self,
        s: Any,
        cp_id: str,
        location: str,
        x: float | None,
        y: float | None,
        default_price: float,
        who: str,
        claim: str,
        token: str = "",
        require_token: bool = False,
    ) -> tuple[str, CpRecord]:
        row = s.get(ChargingPointRow, cp_id, with_for_update=True)
        new = row is None
        if row is None:
            row = ChargingPointRow(
                id=cp_id, location=location, x=x, y=y, price=default_price, admin_state="ACTIVE"
            )
            s.add(row)
        credential, action, detail = _register_row(
            row,
            location,
            x,
            y,
            claim,
            new=new,
            token=token,
            tokens=Tokens(s, {cp_id}),
            require_token=require_token,
        )
        s.add(AuditRow(who=who, action=action, detail=detail))
        s.flush()
        return credential, _record(row)

    def authenticate_cp(self, cp_id: str, credential: str) -> CpRecord:
        """The CP's record when the credential matches; RegistryError with the reason if not."""
        with self.db.Session.begin() as s:
            row = s.get(ChargingPointRow, cp_id)
            if row is None:
                raise RegistryError("unknown cp")
            record, stored = _record(row), row.credential_hash
        if not stored:
            raise RegistryError("not registered yet")
        if not verify_credential(credential, stored):
            raise RegistryError("bad credential")
        return record

    def settle_claim(self, cp_id: str) -> None:
        """The credential was used: the registration is final, its claim is forgotten."""
        self.settle_claims([cp_id])

    def settle_claims(self, cp_ids: list[str]) -> None:
        with self.db.Session.begin() as s:
            s.execute(
                update(ChargingPointRow)
                .where(ChargingPointRow.id.in_(cp_ids))
                .values(claim_hash=None)
            )

    def set_credential_hash(self, cp_id: str, hashed: str) -> None:
        with self.db.Session.begin() as s:
            s.execute(
                update(ChargingPointRow)
                .where(ChargingPointRow.id == cp_id)
                .values(credential_hash=hashed)
            )

    def set_admin_state(self, cp_ids: list[str], state: str, who: str) -> None:
        """One transaction for one CP or for "all" (Stop all on 1,000 CPs is one write)."""
        if not cp_ids:
            return
        with self.db.Session.begin() as s:
            s.execute(
                update(ChargingPointRow)
                .where(ChargingPointRow.id.in_(cp_ids))
                .values(admin_state=state)
            )
            detail = cp_ids[0] if len(cp_ids) == 1 else f"{len(cp_ids)} CPs: {', '.join(cp_ids)}"
            s.add(AuditRow(who=who, action=state.lower(), detail=detail))

    def add_cp(
        self, cp_id: str, location: str, x: float | None, y: float | None, price: float, who: str
    ) -> None:
        try:
            with self.db.Session.begin() as s:
                if s.get(ChargingPointRow, cp_id) is not None:
                    raise RegistryError(f"charging point {cp_id} already exists")
                s.add(
                    ChargingPointRow(
                        id=cp_id, location=location, x=x, y=y, price=price, admin_state="ACTIVE"
                    )
                )
                s.add(
                    AuditRow(
                        who=who,
                        action="cp_add",
                        detail=f"{cp_id} {location!r} ({x}, {y}) {price} EUR/kWh",
                    )
                )
        except IntegrityError as exc:
            raise RegistryError(f"charging point {cp_id} already exists") from exc

    def remove_cp(self, cp_id: str, who: str) -> None:
        with self.db.Session.begin() as s:
            if (
                s.execute(delete(ChargingPointRow).where(ChargingPointRow.id == cp_id)).rowcount
                == 0
            ):
                raise RegistryError(f"no charging point {cp_id}")
            s.add(AuditRow(who=who, action="cp_remove", detail=cp_id))

    def set_price(self, cp_id: str, price: float, who: str) -> None:
        with self.db.Session.begin() as s:
            row = s.get(ChargingPointRow, cp_id)
            if row is None:
                raise RegistryError(f"no charging point {cp_id}")
            old, row.price = row.price, price
            s.add(AuditRow(who=who, action="cp_price", detail=f"{cp_id} {old} -> {price} EUR/kWh"))

    def set_rated_kw(self, cp_id: str, rated_kw: float | None, who: str) -> None:
        """The charger's rated power (None: Central's default); audited, and a running
        Central picks it up at its next registry refresh."""
        with self.db.Session.begin() as s:
            row = s.get(ChargingPointRow, cp_id)
            if row is None:
                raise RegistryError(f"no charging point {cp_id}")
            old, row.rated_kw = row.rated_kw, rated_kw
            s.add(AuditRow(who=who, action="cp_rated_kw", detail=f"{cp_id} {old} -> {rated_kw} kW"))

    def take_epoch(self, holder: str, still_held: Callable[[Session], bool] | None = None) -> int:
        """A lone Central's term of office: ``central_leader.epoch`` plus one (the pair's
        ``Leadership.take_office`` bumps the same row), so commands it numbers are above
        every earlier Central's on this database (central_app.sealing). ``still_held``: the
        pair's check, asked with the row locked; False raises ``Fenced`` and moves nothing."""
        with self.db.Session.begin() as s:
            row = s.get(LeaderRow, 1, with_for_update=True)
            if still_held is not None and not still_held(s):
                raise Fenced(f"{holder} no longer holds the pair's lock: not taking office")
            if row is None:
                row = LeaderRow(id=1, epoch=first_epoch(), holder=holder, since=now_ts())
                s.add(row)
            else:
                row.epoch, row.holder, row.since = row.epoch + 1, holder, now_ts()
            s.flush()
            return int(row.epoch)

    def issue_enrollment(
        self, cp_id: str, who: str, ttl_s: float = ENROLLMENT_TTL_S
    ) -> tuple[str, str]:
        """A one-time enrollment token for ``cp_id`` (a new id, a seeded one, or a revoked one
        to re-admit): (token, expires_at). Only its hash is kept; the issue is audited."""
        if ttl_s <= 0:
            raise RegistryError("an enrollment token must be valid for some time")
        token = new_credential()
        expires_at = format_ts(utc_now() + timedelta(seconds=ttl_s))
        with self.db.Session.begin() as s:
            row = s.get(ChargingPointRow, cp_id)
            if row is not None and row.credential_hash:
                raise RegistryError(
                    f"charging point {cp_id} is registered; revoke it first to enroll it again"
                )
            s.add(
                EnrollmentTokenRow(
                    cp_id=cp_id,
                    token_hash=hash_credential(token),
                    expires_at=expires_at,
                    created_by=who,
                )
            )
            s.add(AuditRow(who=who, action="enroll_issued", detail=f"{cp_id} until {expires_at}"))
        return token, expires_at

    def issue_enrollments(
        self, cp_ids: list[str], who: str, ttl_s: float = ENROLLMENT_TTL_S
    ) -> dict[str, tuple[str, str]]:
        """``issue_enrollment`` for many ids in one transaction (a launcher or the fleet
        admitting thousands of CPs before they start): {cp_id: (token, expires_at)}, each
        issue audited. All or nothing: RegistryError, naming them, when any id is registered.
        """
        if ttl_s <= 0:
            raise RegistryError("an enrollment token must be valid for some time")
        ids = list(dict.fromkeys(cp_ids))
        expires_at = format_ts(utc_now() + timedelta(seconds=ttl_s))
        issued = {cp_id: (new_credential(), expires_at) for cp_id in ids}
        with self.db.Session.begin() as s:
            registered: list[str] = []
            for at in range(0, len(ids), 500):  # bounded IN lists
                chunk = ids[at : at + 500]
                registered += s.scalars(
                    select(ChargingPointRow.id).where(
                        ChargingPointRow.id.in_(chunk),
                        func.coalesce(ChargingPointRow.credential_hash, "") != "",
                    )
                )
            if registered:
                shown = ", ".join(sorted(registered)[:5]) + (" …" if len(registered) > 5 else "")
                raise RegistryError(
                    f"{len(registered)} of these charging points are registered ({shown}); "
                    "revoke them first to enroll them again"
                )
            if not ids:
                return issued
            s.execute(
                insert(EnrollmentTokenRow),
                [
                    {
                        "cp_id": cp_id,
                        "token_hash": hash_credential(token),
                        "expires_at": expires_at,
                        "created_by": who,
                    }
                    for cp_id, (token, _) in issued.items()
                ],
            )
            s.execute(
                insert(AuditRow),
                [
                    {
                        "ts": now_ts(),
                        "who": who,
                        "action": "enroll_issued",
                        "detail": f"{cp_id} until {expires_at}",
                    }
                    for cp_id in ids
                ],
            )
        return issued

    def reset_credential(self, cp_id: str, who: str) -> None:
        """Forget the credential: the CP's next REGISTER gets a new one."""
        with self.db.Session.begin() as s:
            row = s.get(ChargingPointRow, cp_id)
            if row is None:
                raise RegistryError(f"no charging point {cp_id}")
            row.credential_hash = None
            row.claim_hash = None
            s.add(AuditRow(who=who, action="cp_reset_credential", detail=cp_id))

    def revoke_cp(self, cp_id: str, who: str) -> None:
        """Delete the CP's credential, key and claim: it is refused ("credential revoked")
        until its monitor registers again, which issues new ones (docs/security.md)."""
        with self.db.Session.begin() as s:
            row = s.get(ChargingPointRow, cp_id)
            if row is None:
                raise RegistryError(f"no charging point {cp_id}")
            row.credential_hash = row.claim_hash = row.seal_key = None
            row.revoked_at = now_ts()
            s.add(AuditRow(who=who, action="key_revoked", detail=f"{cp_id}: credential and key"))

    def rotate_cp_key(self, cp_id: str, who: str) -> None:
        """A new key for a registered CP; its monitor gets it in the next AUTHORIZED (a running
        Central closes the CP's connection when it sees the change, so that is within 5 s)."""
        with self.db.Session.begin() as s:
            row = s.get(ChargingPointRow, cp_id)
            if row is None:
                raise RegistryError(f"no charging point {cp_id}")
            if not row.credential_hash:
                raise RegistryError(f"charging point {cp_id} is not registered")
            row.seal_key = new_key()
            s.add(AuditRow(who=who, action="key_rotated", detail=cp_id))

    def set_cp_key(self, cp_id: str, key: str) -> None:
        """Central issued a key at AUTH for a CP registered before keys existed."""
        with self.db.Session.begin() as s:
            s.execute(
                update(ChargingPointRow)
                .where(ChargingPointRow.id == cp_id, ChargingPointRow.seal_key.is_(None))
                .values(seal_key=key)
            )
            s.add(AuditRow(who="central", action="key_issued", detail=f"{cp_id} (at AUTH)"))

    # --- drivers --------------------------------------------------------------------------

    def driver_exists(self, driver_id: str) -> bool:
        with self.db.Session.begin() as s:
            return s.get(DriverRow, driver_id) is not None

    def list_drivers(self) -> list[str]:
        with self.db.Session.begin() as s:
            return list(s.scalars(select(DriverRow.id).order_by(DriverRow.id)))

    def driver_keys(self) -> dict[str, str | None]:
        """Every driver with its key (None: not issued yet)."""
        with self.db.Session.begin() as s:
            rows = s.execute(select(DriverRow.id, DriverRow.seal_key).order_by(DriverRow.id))
            return {driver_id: key for driver_id, key in rows}

    def add_driver(self, driver_id: str, who: str) -> str:
        """Add a driver; returns its new key (for the driver's key file)."""
        key = new_key()
        try:
            with self.db.Session.begin() as s:
                if s.get(DriverRow, driver_id) is not None:
                    raise RegistryError(f"driver {driver_id} already exists")
                s.add(DriverRow(id=driver_id, seal_key=key))
                s.add(AuditRow(who=who, action="driver_add", detail=driver_id))
        except IntegrityError as exc:
            raise RegistryError(f"driver {driver_id} already exists") from exc
        return key

    def driver_key(self, driver_id: str, who: str, *, current: bool = False) -> str:
        """A new key for the driver (the old one stops working), or with ``current`` the one
        it has (issued now if it has none): what ``evc-admin driver key`` writes out."""
        with self.db.Session.begin() as s:
            row = s.get(DriverRow, driver_id)
            if row is None:
                raise RegistryError(f"no driver {driver_id}")
            if current and row.seal_key:
                s.add(AuditRow(who=who, action="driver_key_export", detail=driver_id))
                return row.seal_key
            row.seal_key = new_key()
            s.add(AuditRow(who=who, action="driver_key_issued", detail=driver_id))
            return row.seal_key

    def remove_driver(self, driver_id: str, who: str) -> None:
        with self.db.Session.begin() as s:
            if s.execute(delete(DriverRow).where(DriverRow.id == driver_id)).rowcount == 0:
                raise RegistryError(f"no driver {driver_id}")
            s.add(AuditRow(who=who, action="driver_remove", detail=driver_id))

    # --- audit ----------------------------------------------------------------------------

    def audit(self, who: str, action: str, detail: str = "") -> None:
        try:
            with self.db.Session.begin() as s:
                s.add(AuditRow(who=who, action=action, detail=detail))
        except SQLAlchemyError:
            log.exception("audit write failed: %s %s %s", who, action, detail)

    def audit_mark(self) -> int:
        """The newest audit row's id (0 when none): changes whenever the registry does."""
        with self.db.engine.connect() as conn:
            return conn.scalar(select(func.max(AuditRow.id))) or 0

    def audit_entries(self, limit: int = 50) -> list[tuple[str, str, str, str]]:
        with self.db.Session.begin() as s:
            rows = s.scalars(select(AuditRow).order_by(AuditRow.id.desc()).limit(limit))
            return [(r.ts, r.who, r.action, r.detail) for r in rows]
